"""Production adapters that need no server, for one process (`make run`, embedded mode).

The container wires them when the service they stand in for is not configured: the job
queue and event bus without Redis or Kafka, the cache, rate limiter and realtime fan-out
without Redis, and texts and pushes kept and logged without a gateway or a VAPID key.
"""
