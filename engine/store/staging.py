"""Names of staging entries that say which process owns them, so gc never takes a live one.

Every folder or file a step attempt stages (its output folder, a payload being built, a
file being written) starts with the writer's pid: ``<pid>-<random>``. ``gc`` removes a
staging entry only when no process with that pid is alive (a pid reused by another process
keeps it a little longer, never shorter); entries of the older unowned form fall back to
an age rule.
"""

from __future__ import annotations

import os
import re
import uuid

from .processes import pid_alive

_OWNED = re.compile(r"^(?:out-)?(\d+)-")


def owned_name(suffix: str = "") -> str:
    """A fresh staging name owned by this process."""
    return f"{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def owned_prefix(kind: str = "") -> str:
    """A ``tempfile`` prefix owned by this process (``out-<pid>-``)."""
    return f"{kind}{os.getpid()}-"


def owner_alive(name: str) -> bool | None:
    """Whether the process that owns a staging entry lives (None: the name has no owner)."""
    found = _OWNED.match(name)
    if found is None:
        return None
    return pid_alive(int(found.group(1)))
