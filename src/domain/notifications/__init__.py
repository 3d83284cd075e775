"""The notifications context: what users are told, how, and where."""
