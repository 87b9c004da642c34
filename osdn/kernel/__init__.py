"""osdn.kernel."""
