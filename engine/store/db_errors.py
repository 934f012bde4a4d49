"""What a failed SQLite call means for a workspace: a WorkspaceError that says what to do."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from ..errors import WorkspaceError


def explain(path: Path, exc: BaseException) -> WorkspaceError:
    """A workspace error that says what is really wrong with the database, and what to do.

    Only real damage is called damage: a read-only workspace, a full disk or a long lock
    get their own advice, so following it never discards a good history.
    """
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        why = (
            "is read-only here; run in a workspace you can write (--workspace, "
            "$HEADRACE_HOME) or fix its permissions. Nothing was changed"
        )
    elif "full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        why = "cannot grow: the disk is full. Free some space and run again; nothing was lost"
    elif "locked" in text or "busy" in text:
        why = (
            "stayed locked by another process for 30 s; wait for it (headrace gc, a daemon) "
            "and run again"
        )
    elif "unable to open" in text or isinstance(exc, OSError):
        why = (
            "cannot be opened or created there; check that the folder exists and that you "
            "may write to it"
        )
    elif (
        "malformed" in text
        or "not a database" in text
        or "could not decode" in text  # headrace writes only UTF-8 text: bytes were damaged
        or type(exc) is sqlite3.DatabaseError
    ):
        why = (
            "is damaged; move it aside (its runs are lost; artifacts stay) and run again to "
            "start a new history"
        )
    else:
        why = "failed; if this repeats, report it with the message"
    return WorkspaceError(f"the workspace database {path} {why} ({exc})")


def explainable(exc: sqlite3.Error) -> bool:
    """Errors of the database itself (not a caller's constraint or SQL mistake)."""
    mistakes = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
    return not isinstance(exc, mistakes)
