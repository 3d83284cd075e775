"""In-memory twins of the ports, for tests: the core runs with no server at all.

Nothing here is wired by the production container; the stand-ins a single process runs
with in production live in `adapters.inprocess`.
"""
