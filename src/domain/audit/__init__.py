"""The audit log: who did what, when and from where, in a chain that shows any edit."""
