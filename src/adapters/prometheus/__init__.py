"""Prometheus: the metrics ports on prometheus-client, and their exposition."""
