"""The notifications context in PostgreSQL: one module per port, named after it.

Every adapter runs SQLAlchemy Core on the request's connection; the unit of work owns the
transaction. Values another version of the code may have written (a kind or channel this
one does not know) are left out when read, rather than failing the whole read. The memory
twins sit in `adapters.memory.notifications` under the same module names.
"""
