"""The denial-of-service attacks of bench/attacks.py, by concept."""
