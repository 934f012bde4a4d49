"""Live attempt logs in the workspace: ``logs/<run id>/<step>.<attempt>.log`` while a step runs.

A running attempt appends what it prints to its spool file (``headrace runs logs --follow``
reads it); once the attempt's record is written the file goes. A spool left by a process
that died is turned into that attempt's record when the run is reaped.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

LOGS_DIR = "logs"
LOG_LIMIT = 1_000_000
"""Characters of output kept per attempt: the first and the last half, with a note between."""


def spool_path(workspace: Path, run_id: str, step: str, attempt: int) -> Path:
    """Where an attempt running now appends its output."""
    return Path(workspace) / LOGS_DIR / run_id / f"{safe_name(step)}.{attempt}.log"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(step: str) -> str:
    """``step`` as a file name: characters other than letters, digits, ``_.-`` become ``_``."""
    return _UNSAFE.sub("_", step)


def spooled_attempts(workspace: Path, run_id: str, step: str) -> list[int]:
    """The attempts of ``step`` that have a spool file now (running, or interrupted)."""
    prefix = safe_name(step) + "."
    try:
        names = os.listdir(Path(workspace) / LOGS_DIR / run_id)
    except OSError:
        return []
    found = []
    for name in names:
        middle = name[len(prefix) : -len(".log")]
        if name.startswith(prefix) and name.endswith(".log") and middle.isdigit():
            found.append(int(middle))
    return sorted(found)


def spooled(workspace: Path, run_id: str, steps: list[str]) -> list[tuple[str, int, Path]]:
    """(step, attempt, file) of every spool file a run left, for the given step names."""
    return [
        (step, n, spool_path(workspace, run_id, step, n))
        for step in steps
        for n in spooled_attempts(workspace, run_id, step)
    ]


def read_spool(workspace: Path, run_id: str, step: str, attempt: int) -> str | None:
    """What a running (or interrupted) attempt spooled so far, or None when it spooled nothing."""
    try:
        return spool_path(workspace, run_id, step, attempt).read_text(errors="replace")
    except OSError:
        return None


def tail(path: Path, limit: int) -> tuple[str, int]:
    """The last ``limit`` characters of a spool file (with a note when cut), and its size."""
    try:
        size = os.path.getsize(path)
        with open(path, encoding="utf-8", errors="replace") as handle:
            if size <= limit:
                return handle.read(), size
            handle.seek(size - limit)
            handle.readline()  # from the next whole line
            return f"[headrace: the first {size - limit:,} bytes left out]\n" + handle.read(), size
    except OSError:
        return "", 0


def remove_run_folder(workspace: Path, run_id: str) -> None:
    """Remove a run's spool folder once it is empty."""
    with contextlib.suppress(OSError):
        (Path(workspace) / LOGS_DIR / run_id).rmdir()
