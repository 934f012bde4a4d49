"""Regression tests from a review of the engine: each one failed before its fix."""
