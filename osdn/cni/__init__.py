"""osdn.cni."""
