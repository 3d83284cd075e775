"""SMS through a Twilio-compatible HTTP API."""
