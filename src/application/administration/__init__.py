"""Operator actions on accounts: creating administrators, roles, bans."""
