"""Articles, their tags, comments and favorites: the articles context."""
