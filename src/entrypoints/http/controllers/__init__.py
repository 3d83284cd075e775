"""One controller module per feature."""
