"""The history writer: a background thread that commits queued writes, many per transaction."""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import WorkspaceError
from .db_errors import explain, explainable

if TYPE_CHECKING:
    from .database import Database

GATHER = 0.002  # seconds the history writer gathers writes before it commits them


class BatchWriter:
    """Applies history writes on a background thread, as many per transaction as are waiting.

    The runner's loop then never waits for SQLite: a 1,000-step chain costs a handful of
    commits instead of two per step. Once a write arrives, the thread gathers what follows
    for up to ``GATHER`` seconds before it commits (waking for every write, it took the
    interpreter lock from the step threads twice per step); :meth:`flush` and :meth:`close`
    cut that wait short. :meth:`flush` waits until everything queued is committed and
    re-raises a failed write.

    Consecutive ops that share a ``batched`` attribute (a function of the connection and the
    list of those ops with their arguments) are applied by one call of it: a 1,000-step run
    is recorded in a few statements (``run_writes.py``).

    Args:
        history: the database to write to.
    """

    def __init__(self, history: Database):
        self.history = history
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._urgent = threading.Event()  # someone waits for the queue to be written
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="headrace-history", daemon=True)
        self._thread.start()

    def put(self, op: Callable[..., None], *args: Any) -> None:
        """Queue ``op(connection, *args)``."""
        if self._closed:
            raise RuntimeError("history writer is closed")
        self._queue.put((op, args))

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            if isinstance(items[0], tuple):  # more are on their way: one transaction for all
                self._urgent.wait(GATHER)
            self._urgent.clear()
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            ops = [i for i in items if isinstance(i, tuple)]
            try:
                if ops:
                    self._write(ops)
            except BaseException as exc:  # reported by flush(): the first one
                self._error = self._error or exc
            for i in items:
                if isinstance(i, threading.Event):
                    i.set()
            if any(i is None for i in items):
                return

    def _write(self, ops: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
        """Commit ``ops`` in one transaction; when one fails, all again, each in a savepoint
        (so only the failing one is undone), which costs two statements per op only then."""
        try:
            with self.history.transaction() as c:
                for op, args in _merged(ops):
                    op(c, *args)
            return
        except (WorkspaceError, sqlite3.OperationalError) as exc:  # rolled back whole
            if isinstance(exc, WorkspaceError) or "locked" in str(exc) or "busy" in str(exc):
                raise  # the database's fault (a lock outlasted the busy timeout): no op's
        except Exception:  # rolled back whole: nothing of it was committed
            pass
        with self.history.transaction() as c:
            for op, args in ops:
                self._apply(c, op, args)

    def _apply(self, c: sqlite3.Connection, op: Callable[..., None], args: tuple[Any, ...]) -> None:
        """Apply one write in a savepoint: a failing write is undone alone and reported."""
        c.execute("SAVEPOINT op")
        try:
            op(c, *args)
        except Exception as exc:
            c.execute("ROLLBACK TO op")
            self._error = self._error or exc
        c.execute("RELEASE op")

    def flush(self) -> None:
        """Wait until every queued write is committed; re-raise a write that failed."""
        if not self._closed:
            done = threading.Event()
            self._queue.put(done)
            self._urgent.set()
            done.wait()
        if self._error is not None:
            error = self._error
            if isinstance(error, sqlite3.Error) and explainable(error):
                raise explain(self.history.path, error) from error
            raise error

    def close(self) -> None:
        """Flush and stop the thread (a second call only re-checks for errors)."""
        if not self._closed:
            self._queue.put(None)
            self._urgent.set()
            self._thread.join()
            self._closed = True
        self.flush()


def _merged(
    ops: list[tuple[Callable[..., None], tuple[Any, ...]]],
) -> list[tuple[Callable[..., None], tuple[Any, ...]]]:
    """``ops`` with each run of consecutive ops that share a ``batched`` function made one
    call of it (given the ops with their arguments)."""
    out: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    run: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
    for i, (op, args) in enumerate(ops):
        batched = getattr(op, "batched", None)
        if batched is None:
            out.append((op, args))
            continue
        run.append((op, args))
        if i + 1 == len(ops) or getattr(ops[i + 1][0], "batched", None) is not batched:
            out.append((batched, (run,)) if len(run) > 1 else (op, args))
            run = []
    return out
