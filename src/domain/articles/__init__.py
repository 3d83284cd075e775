"""Articles, their tags, comments and favorites: the content context."""
