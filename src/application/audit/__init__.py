"""Use cases and ports of the audit log: capturing entries, reading them, proving the chain."""
