"""Accounts: registering, signing in, and managing one's own account."""
