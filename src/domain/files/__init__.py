"""The files context: what users upload, the rules it must meet, and who may read it."""
