"""osdn.store."""
