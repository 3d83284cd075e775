"""What every event bus adapter shares: the envelope events travel in."""
