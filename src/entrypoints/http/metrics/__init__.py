"""`GET /metrics`: the route behind a token, the separate port, and what a scrape reads."""
