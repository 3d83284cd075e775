"""Users: accounts, sign-in sessions and recovery, and the operator's actions on accounts."""
