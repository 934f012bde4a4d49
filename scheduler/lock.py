"""One daemon per workspace: an exclusive ``flock`` on ``<workspace>/scheduler.lock``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from headrace.engine.errors import HeadraceError


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
