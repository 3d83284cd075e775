"""Content: articles, tags, favorites, comments and the feed."""
