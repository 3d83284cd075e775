"""The live admin dashboard: figures every process counts, read back for the page."""
