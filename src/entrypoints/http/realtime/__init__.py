"""Live channels: the WebSocket gateway, the SSE stream, and the hub they share."""
