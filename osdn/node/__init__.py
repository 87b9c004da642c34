"""osdn.node."""
