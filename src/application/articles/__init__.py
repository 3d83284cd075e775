"""Articles: articles, tags, favorites, comments and the feed."""
