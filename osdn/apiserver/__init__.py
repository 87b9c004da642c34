"""osdn.apiserver."""
