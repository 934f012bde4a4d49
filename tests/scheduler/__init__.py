"""Tests of headrace.scheduler."""
