"""The notifications context over HTTP: one controller per resource of the caller's."""
