"""Mini-batches on Dask workers: each Dask worker process scores them in a worker of its own.

A Dask worker process does not run the entry itself: it starts a local worker process per
step (``pool.LocalPool`` of one, so one init() per Dask worker and step) and hands it the
mini-batches sent to it. An entry that calls ``os._exit``, crashes in native code, runs out
of memory or outlives ``run_invocation_timeout`` takes down only that process: the Dask
worker (which may also be running the step's own task) lives on, the mini-batch counts a
failed attempt, and a new worker process takes its place. Each step's module globals,
``environment_variables=`` and ``arguments=`` stay in its own process.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections import OrderedDict

from ..errors import ParallelRunError
from ..fingerprint.digest import hash_bytes
from .pool import LocalPool, Spares
from .worker import Outcome, Setup, Task

KEEP = 2  # steps' worker processes kept per Dask worker (older ones are shut down)

_pools: OrderedDict[str, LocalPool | Outcome] = OrderedDict()  # an Outcome: init() failed
_lock = threading.Lock()


def remote_shared(setup: Setup, timeout: float, where: str) -> bytes:
    """What every call of :func:`process_remote` gets for a step."""
    return pickle.dumps((setup, timeout, where))


def process_remote(shared: bytes, task: Task) -> Outcome:
    """Score ``task`` in this Dask worker's worker process for the step (started on first use).

    Calls are serialized per Dask worker process: the entry sees one mini-batch at a time,
    as in the local pool, whatever the Dask worker's thread count.
    """
    key = hash_bytes(shared)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _start(key, shared)
        _pools.move_to_end(key)
        if isinstance(pool, Outcome):  # its init() failed here: every later call fails fast
            return Outcome(
                task.batch, task.attempt, "init_failed", error=pool.error, traceback=pool.traceback
            )
        pool.submit(task)
        try:
            for outcome in pool.outcomes():
                if outcome is not None:  # one attempt in flight: this is its outcome
                    return outcome
        except ParallelRunError as exc:  # init() raised, or the process died in it
            error, traceback = pool.init_error or (str(exc), "")
            failed = Outcome(
                task.batch, task.attempt, "init_failed", error=error, traceback=traceback
            )
            _pools[key] = failed
            pool.close(graceful=False)
            return failed
    raise ParallelRunError(f"the worker process gave no outcome for mini-batch {task.batch}")


def _start(key: str, shared: bytes) -> LocalPool:
    setup, timeout, where = pickle.loads(shared)
    pool = LocalPool(setup, 1, timeout, where, Spares(1, setup.env))
    pool.__enter__()
    _pools[key] = pool
    while len(_pools) > KEEP:
        _, old = _pools.popitem(last=False)
        if isinstance(old, LocalPool):
            with contextlib.suppress(Exception):
                old.close(graceful=True)  # its shutdown() runs
    return pool
