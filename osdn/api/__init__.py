"""API object types: kinds, defaulting, validation, label selectors. PURE (no I/O, no clock)."""
