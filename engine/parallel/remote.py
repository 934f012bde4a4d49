"""Mini-batches on Dask workers: one session (so one init()) per worker process and step."""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections import OrderedDict

from ..fingerprint.digest import hash_bytes
from .invocation import entry_setting
from .worker import Outcome, Session, Setup, Task, entry_traceback

KEEP = 2  # sessions kept per worker process (older ones are shut down)

_sessions: OrderedDict[str, Session | BaseException] = OrderedDict()
_lock = threading.Lock()


def process_remote(setup: bytes, task: Task) -> Outcome:
    """Score ``task`` in this worker process's session for ``setup`` (started on first use).

    Calls are serialized per process: an entry sees one mini-batch at a time, as in the
    local pool, whatever the worker's thread count. The step's ``environment_variables=``
    and ``arguments=`` are set for each call and restored after it: the process hosts other
    steps' sessions, and later steps of other pipelines.
    """
    key = hash_bytes(setup)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _start(key, setup)
        if isinstance(session, BaseException):
            exc = session
            return Outcome(
                task.batch,
                task.attempt,
                "init_failed",
                error=f"{type(exc).__name__}: {exc}",
                traceback=entry_traceback(exc),
            )
        with _setting(session.setup):
            return session.process(task)


def _setting(setup: Setup) -> contextlib.AbstractContextManager[None]:
    return entry_setting(setup.entry.label, setup.arguments, tuple(setup.env.items()))


def _start(key: str, setup: bytes) -> Session | BaseException:
    started: Session | BaseException
    try:
        spec = pickle.loads(setup)
        with _setting(spec):
            started = Session(spec, private=True)
    except Exception as exc:  # init() raised: every later call here fails fast too
        started = exc
    _sessions[key] = started
    while len(_sessions) > KEEP:
        _, old = _sessions.popitem(last=False)
        if isinstance(old, Session):
            with contextlib.suppress(Exception):  # its shutdown() failing ends nothing here
                old.close()
    return started
