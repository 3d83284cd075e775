"""Background jobs on taskiq, with Redis Streams as the broker."""
