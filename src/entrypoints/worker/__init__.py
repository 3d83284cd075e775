"""The background worker: the loops `portico worker` runs beside the API."""
