"""The driving side: HTTP app, CLI, worker, and the composition root that wires them."""
