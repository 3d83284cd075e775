"""PostgreSQL through SQLAlchemy 2 Core (async) on psycopg 3."""
