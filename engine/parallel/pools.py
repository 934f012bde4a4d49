"""Which pool scores a step's mini-batches: Dask workers when the step runs on Dask, else local."""

from __future__ import annotations

import sys
from typing import Any

from .pool import LocalPool, Spares
from .worker import Setup


def start_workers(size: int, env: dict[str, str]) -> Spares | None:
    """Start the local worker processes early (None on a Dask worker: the cluster scores)."""
    if "distributed" in sys.modules:  # not imported: not on a Dask worker (and it is slow)
        from ..execution.executors.dask_fanout import on_dask_worker

        if on_dask_worker():
            return None
    return Spares(size, env)


def make_pool(
    setup: Setup,
    size: int,
    timeout: float,
    where: str,
    spares: Spares | None,
    limit: int | None = None,
) -> Any:
    """A pool with ``submit(task, first=False)`` and ``outcomes()``, used as a context manager.

    On a Dask worker (``spares`` is None) the step's mini-batches go to the cluster's workers
    (one session, so one init(), per worker process), at most ``limit`` at a time (the step's
    ``max_concurrency``) when given; anywhere else ``size`` local worker processes score them,
    the ``spares`` first.
    """
    if spares is None:
        from .dask_pool import DaskPool

        return DaskPool(setup, limit, timeout, where)
    return LocalPool(setup, size, timeout, where, spares)
