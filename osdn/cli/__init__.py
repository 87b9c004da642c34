"""osdn.cli."""
