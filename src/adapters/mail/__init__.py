"""Mailers that need no mail server: files for development, memory for tests."""
