"""Development tooling that ships with the repository but not with the service."""
