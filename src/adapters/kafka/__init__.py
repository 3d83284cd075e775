"""Kafka through aiokafka: the event bus."""
