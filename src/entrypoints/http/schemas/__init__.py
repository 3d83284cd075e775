"""msgspec Structs: the HTTP contract, kept apart from the use cases' commands."""
