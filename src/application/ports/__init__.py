"""Ports: protocols the application owns and the adapters implement."""
