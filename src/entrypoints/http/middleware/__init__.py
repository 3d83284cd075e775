"""Pure ASGI middleware that wraps every request, matched route or not."""
