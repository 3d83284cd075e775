"""Events: relaying the outbox to the bus, and keeping it tidy."""
