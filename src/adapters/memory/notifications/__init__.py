"""The notifications context in memory: one module per port, named as its PostgreSQL twin.

Rows are kept as copies in plain, deep-copyable values (the unit of work snapshots the
tables with `copy.deepcopy`), and handed out as fresh copies, like a database's rows.
"""
