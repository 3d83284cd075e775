"""Users: accounts, their profiles, and who follows whom."""
