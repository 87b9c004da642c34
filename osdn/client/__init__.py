"""osdn.client."""
