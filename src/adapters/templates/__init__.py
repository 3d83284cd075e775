"""Message templates, rendered with Jinja2."""
