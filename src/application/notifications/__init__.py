"""Telling users things: email now; in-app, SMS and push with the notifications feature."""
