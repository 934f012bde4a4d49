"""headrace.components."""
