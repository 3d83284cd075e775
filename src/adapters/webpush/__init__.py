"""Web Push (RFC 8030) with encrypted payloads (RFC 8291) and VAPID (RFC 8292), over httpx."""
