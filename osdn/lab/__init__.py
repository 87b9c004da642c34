"""osdn.lab."""
