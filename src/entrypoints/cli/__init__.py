"""The `portico` command for operators."""
