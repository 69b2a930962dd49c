"""A code location that cannot load: the launcher must say why instead of hanging."""

raise RuntimeError("this location is broken on purpose")
