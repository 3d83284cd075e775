"""Password hashing with argon2id, and access tokens as JWTs."""
