"""Adapters that run work inside the API process: jobs, in embedded mode."""
