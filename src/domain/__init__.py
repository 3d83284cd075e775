"""The domain: entities, value objects, domain events and errors. Standard library only."""
