"""osdn.master."""
