"""Raises on import."""

raise ImportError("no module named nonexistent_dependency")
