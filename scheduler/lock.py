"""One daemon per workspace: an exclusive ``flock`` on ``<workspace>/scheduler.lock``, and the
``daemon.pid`` file that says which process holds it, since when, and where it logs."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from headrace.engine.errors import HeadraceError
from headrace.engine.store.processes import pid_alive, process_start_time

#: In the workspace: the running daemon's pid file (JSON) and, with ``--detach``, its log.
PID_FILE, LOG_FILE = "daemon.pid", "daemon.log"


class DaemonRunningError(HeadraceError):
    """Another daemon holds the workspace's scheduler lock.

    Attributes:
        pid: The other daemon's process id, when it could be read.
    """

    def __init__(self, message: str, pid: int | None):
        super().__init__(message)
        self.pid = pid


class WorkspaceLock:
    """Holds the workspace's scheduler lock while in a ``with`` block; the file keeps the pid.

    The OS drops the lock when the process dies, so a crashed daemon never blocks the next.

    Args:
        root: The workspace folder.
    """

    def __init__(self, root: Path):
        self.path = Path(root) / "scheduler.lock"
        self._file: IO[str] | None = None

    def __enter__(self) -> WorkspaceLock:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            handle.close()
            pid = int(text) if text.isdigit() else None
            raise DaemonRunningError(
                f"another headrace daemon (pid {pid if pid else 'unknown'}) is already running for "
                f"workspace {self.path.parent}; only one may run per workspace. Stop it first "
                f"(kill -TERM {pid or 'PID'}) or use another --workspace",
                pid,
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class DaemonInfo:
    """What ``daemon.pid`` says about a workspace's daemon.

    Attributes:
        pid: Its process id.
        started_at: Epoch seconds it started at.
        log: Its log file (``--detach``), or None when it logs to its terminal.
        running: Whether that process still runs (same pid and start time).
    """

    pid: int
    started_at: float
    log: str | None
    running: bool

    @property
    def uptime(self) -> float:
        """Seconds since it started."""
        return max(0.0, time.time() - self.started_at)


def write_pid_file(root: Path, log: str | None) -> None:
    """Record this process as the workspace's daemon (call it holding the lock)."""
    pid = os.getpid()
    record = {"pid": pid, "started_at": time.time(), "start": process_start_time(pid), "log": log}
    path = Path(root) / PID_FILE
    tmp = path.with_name(f".{PID_FILE}.{pid}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def remove_pid_file(root: Path) -> None:
    """Remove ``daemon.pid`` if it names this process."""
    info = read_pid_file(root)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(OSError):
            (Path(root) / PID_FILE).unlink()


def read_pid_file(root: Path) -> DaemonInfo | None:
    """The workspace's daemon as its pid file records it, or None when there is none."""
    try:
        record = json.loads((Path(root) / PID_FILE).read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    running = pid_alive(pid, record.get("start"))
    return DaemonInfo(pid, float(record.get("started_at") or 0.0), record.get("log"), running)
