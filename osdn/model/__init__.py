"""osdn.model."""
