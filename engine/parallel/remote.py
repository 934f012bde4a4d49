"""Mini-batches on Dask workers: one session (so one init()) per worker process and step."""

from __future__ import annotations

import contextlib
import pickle
import threading
import types
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

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
        with _setting(session.setup), _own_globals(key, session):
            return session.process(task)


def _setting(setup: Setup) -> contextlib.AbstractContextManager[None]:
    return entry_setting(setup.entry.label, setup.arguments, tuple(setup.env.items()))


_globals: dict[str, dict[str, Any]] = {}  # session key -> its module entry's globals


@contextlib.contextmanager
def _own_globals(key: str, session: Session) -> Iterator[None]:
    """A module entry's globals as this session's init() and runs left them.

    Two steps with one module entry (``entry="pkg.score"``) share the module object in this
    process, and an Azure entry keeps what init() loads in module globals: each session's
    are put back before its call and kept after it (calls are serialized here). The module
    stays the one ``import`` gives, so its classes still pickle by reference.
    """
    module = session.entry if isinstance(session.entry, types.ModuleType) else None
    if module is not None and key in _globals:
        vars(module).update(_globals[key])
    try:
        yield
    finally:
        if module is not None:
            _globals[key] = dict(vars(module))


def _start(key: str, setup: bytes) -> Session | BaseException:
    started: Session | BaseException
    try:
        spec = pickle.loads(setup)
        with _setting(spec):
            started = Session(spec)
        with _own_globals(key, started):  # what its init() left
            pass
    except Exception as exc:  # init() raised: every later call here fails fast too
        started = exc
    _sessions[key] = started
    while len(_sessions) > KEEP:
        gone, old = _sessions.popitem(last=False)
        if isinstance(old, Session):
            with contextlib.suppress(Exception), _own_globals(gone, old):  # shutdown() failing
                old.close()  # ends nothing here
        _globals.pop(gone, None)
    return started
