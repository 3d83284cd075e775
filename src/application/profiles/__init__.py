"""Profiles: how users see each other, and who follows whom."""
