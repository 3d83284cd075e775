"""In-memory adapters for every port: the core runs and is tested with no server at all."""
