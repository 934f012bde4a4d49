"""Per-thread capture of what a step attempt prints and logs: stdout, stderr, ``logging`` records.

Steps on the thread executor share one process, so ``sys.stdout`` and ``sys.stderr`` become
routers that hand each write to the capture of the thread making it (other threads write
through unchanged), and the log record factory hands each record to the capture of the thread
that logged it. Records are taken when they are made, after the logger's level check and
before any handler, so ``logging.basicConfig`` and the user's handlers behave as without
headrace, and a record a handler also writes to a routed stream is kept once (whatever the
handler: logging's own, rich's, one of Prefect's, a user's ``emit`` writing to ``sys.stderr``).

Each captured line is echoed to the original stream prefixed with the step name, appended to
a live spool file when one is given (``headrace runs logs --follow`` reads it), and handed to
an optional sink (the prefect executor turns lines into task-run logs).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from ..store.spools import LOG_LIMIT

__all__ = ["LOG_LIMIT", "AttemptLog", "Sink", "start", "stop"]


SPOOL_LIMIT = 50 * LOG_LIMIT
"""Characters an attempt appends to its live spool file at most (disk use of a chatty step)."""

STDOUT, STDERR, LOG = "stdout", "stderr", "log"
Sink = Callable[[str, str, int], None]
"""``sink(stream, line, level)``: stream is stdout, stderr or log; level a logging level."""

_active: dict[int, AttemptLog] = {}  # thread ident → its capture
_local = threading.local()  # .passthrough: writes of this thread are not captured now;
# .emitting: this thread's handlers are writing a record already captured
_install_lock = threading.Lock()
_LOGGING_FILE = logging.__file__
_formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")


class AttemptLog:
    """The captured output of one step attempt, capped at ``limit`` characters.

    Args:
        prefix: what echoed lines start with (``"[train] "``); None: no echo.
        limit: characters kept (the first and the last half).
        spool: a file to append each line to as it comes (skipped when it cannot be opened).
        sink: called with each line.
    """

    def __init__(
        self,
        prefix: str | None,
        limit: int = LOG_LIMIT,
        spool: str | None = None,
        sink: Sink | None = None,
    ):
        self.prefix = prefix
        self.half = max(limit // 2, 1)
        self.spool_path = spool
        self._spool: IO[str] | None = None
        self.sink = sink
        self._partial: dict[str, str] = {}
        self._head: list[str] = []
        self._head_size = 0
        self._tail: collections.deque[str] = collections.deque()
        self._tail_size = 0
        self.total = 0  # characters seen
        self._dropped_lines = 0
        self._echo: dict[str, Any] = {}
        self._lock = threading.Lock()

    def write(self, stream: str, text: str) -> None:
        """Take text written to ``stream``; complete lines are kept, the rest waits for more."""
        with self._lock:
            pending = self._partial.pop(stream, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[stream] = rest
        for line in lines:
            self.line(stream, line, logging.INFO)

    def line(self, stream: str, line: str, level: int, echo: bool = True) -> None:
        """Keep one line (without its newline), spool it, echo it and pass it to the sink."""
        with self._lock:
            self._keep(line + "\n")
            self._to_spool(line)
        with _passing():
            if echo and self.prefix is not None:
                target = self._echo.get(STDOUT if stream == STDOUT else STDERR)
                if target is not None:  # a closed terminal never fails the step
                    with contextlib.suppress(OSError, ValueError):
                        target.write(f"{self.prefix}{line}\n")
            if self.sink is not None:  # a sink (e.g. a server) failing costs only its copy
                with contextlib.suppress(Exception):
                    self.sink(stream, line, level)

    def echo(self, target: Any, text: str) -> None:
        """Show ``text`` on ``target`` with the prefix on each line, without keeping it."""
        if self.prefix is not None and text:
            body = text[:-1] if text.endswith("\n") else text
            text = "".join(f"{self.prefix}{line}\n" for line in body.split("\n"))
        with _passing(), contextlib.suppress(OSError, ValueError):
            target.write(text)

    def _keep(self, text: str) -> None:
        self.total += len(text)
        if self._head_size + len(text) <= self.half and not self._tail:
            self._head.append(text)
            self._head_size += len(text)
            return
        self._tail.append(text)
        self._tail_size += len(text)
        while self._tail_size > self.half and len(self._tail) > 1:
            self._tail_size -= len(self._tail.popleft())
            self._dropped_lines += 1
        if self._tail_size > self.half:  # one very long line: keep its end
            only = self._tail.pop()
            self._tail.append(only[-self.half :])
            self._tail_size = self.half

    def _to_spool(self, line: str) -> None:
        if self.spool_path is None:
            return
        if self._spool is None:
            try:  # the folder exists where the run's workspace is; elsewhere: no spool
                self._spool = open(self.spool_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
            except OSError:
                self.spool_path = None
                return
        try:
            if self.total > SPOOL_LIMIT:  # the record keeps the end; the live copy stops here
                self._spool.write(f"[headrace: the live log stops at {SPOOL_LIMIT:,} characters]\n")
                self.spool_path = None
                return
            self._spool.write(line + "\n")
        except OSError:
            self.spool_path = None

    def finish(self) -> tuple[str, int]:
        """Flush partial lines and close the spool; returns (kept text, characters seen)."""
        for stream in list(self._partial):
            rest = self._partial.pop(stream)
            self.line(stream, rest, logging.INFO)
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        kept = "".join(self._head)
        if self._tail:
            left_out = self.total - self._head_size - self._tail_size
            if left_out > 0:
                kept += (
                    f"[headrace: {left_out:,} characters ({self._dropped_lines:,} lines) of "
                    f"output left out here; an attempt's log keeps its first and last "
                    f"{self.half:,} characters]\n"
                )
            kept += "".join(self._tail)
        return kept, self.total


class _Passing:
    def __enter__(self) -> None:
        self.before = getattr(_local, "passthrough", False)
        _local.passthrough = True

    def __exit__(self, *exc: object) -> None:
        _local.passthrough = self.before


def _passing() -> _Passing:
    """While active, this thread's writes and records go where they would without capture."""
    return _Passing()


class _Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: captured threads' writes go to their log."""

    def __init__(self, stream: str, target: Any):
        self._headrace_stream = stream
        self._headrace_target = target

    def write(self, text: str) -> int:
        log = _active.get(threading.get_ident())
        if log is None or getattr(_local, "passthrough", False):
            return int(self._headrace_target.write(text) or 0)
        if _logged_already():  # kept when it was logged: only shown, with the step's prefix
            log.echo(self._headrace_target, text)
        else:
            log.write(self._headrace_stream, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._headrace_target.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer, ...
        return getattr(self._headrace_target, name)


def _logged_already() -> bool:
    """Whether this write is a logging handler writing a record already captured: one the
    logger is handing to its handlers now, or one a handler of logging's emits later (a
    ``MemoryHandler`` flushing to a ``StreamHandler``)."""
    if getattr(_local, "emitting", False):
        return True
    frame = sys._getframe(2)
    if frame.f_code.co_filename != _LOGGING_FILE:
        return False
    record = frame.f_locals.get("record")
    return getattr(record, "_headrace_kept", False) is True


_previous_factory: Callable[..., logging.LogRecord] | None = None
_call_handlers = logging.Logger.callHandlers


def _calling_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    """``Logger.callHandlers``, flagging a captured record's handling in this thread."""
    if not getattr(record, "_headrace_kept", False) or getattr(_local, "emitting", False):
        return _call_handlers(self, record)
    _local.emitting = True
    try:
        return _call_handlers(self, record)
    finally:
        _local.emitting = False


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    log = _active.get(threading.get_ident())
    if log is None or getattr(_local, "passthrough", False):
        return record
    if getattr(record, "_headrace_kept", False):  # another of our factories took it
        return record
    record._headrace_kept = True
    try:
        text = _formatter.format(record)
    except Exception as exc:  # a bad format string: say so instead of failing the step
        text = f"{record.levelname} {record.name}: (unformattable {record.msg!r}: {exc})"
    finally:
        record.exc_text = None  # let the user's own formatters format it their way
    for piece in text.split("\n"):
        log.line(LOG, piece, record.levelno, echo=False)
    return record


def _after_fork() -> None:
    """In a child forked by a step: write where the parent's streams go, uncaptured (the
    parent's captures and their locks belong to threads that do not exist here)."""
    global _install_lock
    _active.clear()
    _install_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _install() -> tuple[Any, Any]:
    """Make sure stdout/stderr route and the record factory captures; returns the targets."""
    global _previous_factory
    out, err = sys.stdout, sys.stderr
    if (  # in place already (every attempt after the first): no lock
        isinstance(out, _Router)
        and isinstance(err, _Router)
        and logging.getLogRecordFactory() is _factory
        and logging.Logger.callHandlers is _calling_handlers
    ):
        return out._headrace_target, err._headrace_target
    with _install_lock:
        for name, stream in (("stdout", STDOUT), ("stderr", STDERR)):
            current = getattr(sys, name)
            if not isinstance(current, _Router) and current is not None:
                setattr(sys, name, _Router(stream, current))
        logging.Logger.callHandlers = _calling_handlers  # type: ignore[method-assign]
        factory = logging.getLogRecordFactory()
        # Wrap once; again only after a reset to the plain LogRecord. A factory set after ours
        # may chain to it: wrapping that one again would loop.
        fresh = _previous_factory is None or factory is logging.LogRecord
        if fresh and factory is not _factory:
            _previous_factory = factory
            logging.setLogRecordFactory(_factory)
    return _target(sys.stdout), _target(sys.stderr)


def _target(router: Any) -> Any:
    return router._headrace_target if isinstance(router, _Router) else router


def start(log: AttemptLog) -> AttemptLog | None:
    """Capture this thread's output into ``log``; returns the capture it replaces."""
    out, err = _install()
    log._echo = {STDOUT: out, STDERR: err}
    ident = threading.get_ident()
    previous = _active.get(ident)
    _active[ident] = log
    return previous


def stop(previous: AttemptLog | None) -> None:
    """End this thread's capture (restoring ``previous``, the one :func:`start` replaced)."""
    ident = threading.get_ident()
    if previous is None:
        _active.pop(ident, None)
    else:
        _active[ident] = previous
