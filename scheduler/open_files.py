"""Which files some process has open for writing (Linux ``/proc``; elsewhere, none known).

A trigger learns that a file is being written from filesystem events, but only for writes it
saw: a file a writer opened before the daemon started (or renamed in while still open) has
no events, so it is looked up here before it is taken.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

_WRITE = os.O_WRONLY | os.O_RDWR


def open_for_writing(paths: Iterable[str]) -> set[str]:
    """The files of ``paths`` that a process this user may inspect has open for writing.

    Args:
        paths: Absolute paths.
    """
    wanted: dict[str, str] = {}
    for path in paths:
        wanted.setdefault(os.path.realpath(path), path)
    if not wanted or not os.path.isdir("/proc/self/fd"):
        return set()
    found: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fds = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:  # gone, or another user's
            continue
        for fd in names:
            try:
                target = os.readlink(f"{fds}/{fd}")
            except OSError:
                continue
            if target in wanted and _writable(pid, fd):
                found.add(wanted[target])
    return found


def _writable(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as info:
            for line in info:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & _WRITE)
    except (OSError, ValueError):
        pass
    return False
