"""Markers that switch optional adapters on when their settings are present."""

from dishka import Marker

REDIS = Marker("redis")
KAFKA = Marker("kafka")
SMTP = Marker("smtp")
KAFKA_PROBED = Marker("kafka_probed")
SMTP_PROBED = Marker("smtp_probed")
JOBS_ON_REDIS = Marker("jobs_on_redis")
EVENTS_ON_REDIS = Marker("events_on_redis")
SMS = Marker("sms")
PUSH = Marker("push")
