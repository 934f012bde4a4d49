"""Whether a recorded process still runs: its pid and its start time (a reused pid is not it)."""

from __future__ import annotations

import os


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque token, or None when it cannot be read.

    Recorded with a pid so that a later, unrelated process given the same (reused) pid is not
    taken for it: Linux ``/proc/<pid>/stat`` field 22 (clock ticks since boot), else psutil's
    creation time when psutil is installed.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # field 22; fields[0] is field 3 (the state)
    except (OSError, IndexError, UnicodeDecodeError):
        pass
    try:
        import psutil

        return repr(psutil.Process(pid).create_time())
    except Exception:  # not installed, no such process, no permission
        return None


def pid_alive(pid: int, started: str | None = None) -> bool:
    """Whether a process with this id runs on this machine (also when another user owns it).

    The one liveness check of headrace (run records, the scheduler, the Prefect server). A
    zombie (ended, not yet reaped by its parent) is not alive, where ``/proc`` shows it.

    Args:
        pid: The process id.
        started: The process's ``process_start_time`` as recorded with the pid; a process
            with this id that started at another time reuses the id of a dead one (not alive).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except (OverflowError, ValueError):  # not a pid at all
        return False
    if started is not None:
        now = process_start_time(pid)
        if now is not None and now != started:
            return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): signal 0 reached it
        return True
