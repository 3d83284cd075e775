"""An embedded PostgreSQL, from the pgserver wheel, for running with nothing installed."""
