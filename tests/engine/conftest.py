"""Fixtures for the engine tests: the executor fixtures (a shared Dask cluster, executors by name)."""

from .executor_fixtures import dask_client, make_exec  # noqa: F401
