"""What each user module's file was when the interpreter loaded it.

A module edited on disk after its import, and not reloaded, runs its old code while its file
says something else. The source fingerprints must then not be trusted (``source.py`` calls
the module *drifted*). The definitions can be compared with the loaded bytecode, but a
module-level value cannot: ``C = {3, 5}`` edited to ``{3, 5, 8}`` looks exactly like a set
filled at run time. So the file's stat is taken as the module is loaded: by an import hook
that only watches (it finds the spec as the other finders would and notes the file's stat
and the fingerprint of its bytes), and, for modules loaded before headrace, when headrace is
imported. Only the user's own files are noted, not the standard library's or installed ones.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from typing import Any

from .digest import hash_bytes
from .modkind import file_kind, is_headrace

__all__ = ["Loaded", "Stat", "content_digest", "edited_since_load", "file_stat", "watch"]

Stat = tuple[int, int, int]
"""A file's (mtime_ns, size, inode)."""


@dataclass(frozen=True)
class Loaded:
    """A user module's file as it was loaded.

    Attributes:
        spec_id: the id of the import's spec (a reload makes a new one).
        stat: the file's stat then.
        digest: a digest of its bytes then (None when it could not be read).
    """

    spec_id: int
    stat: Stat | None
    digest: str | None


_LOADED: dict[str, Loaded] = {}
_LOCK = threading.Lock()
_BUSY = threading.local()


def file_stat(path: str | None) -> Stat | None:
    """``path``'s (mtime_ns, size, inode), or None when it has none or cannot be read."""
    try:
        st = os.stat(path) if path else None
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino) if st is not None else None


def content_digest(path: str | None) -> str | None:
    """The fingerprint of the bytes of ``path``, or None when it cannot be read."""
    try:
        with open(path or "", "rb") as f:
            return hash_bytes(f.read())
    except (OSError, ValueError):
        return None


def loaded(module: types.ModuleType) -> Loaded | None:
    """How this loaded version of ``module``'s file was, or None when headrace did not see
    it load (a module made in code, or loaded by a loader called directly)."""
    entry = _LOADED.get(module.__name__)
    if entry is None or entry.spec_id != id(getattr(module, "__spec__", None)):
        return None
    return entry


def edited_since_load(module: types.ModuleType, now: Stat | None) -> bool | None:
    """Whether ``module``'s file (whose stat is ``now``) holds other bytes than it did when
    this version of the module was loaded; None when that is not known. A file saved again
    unchanged (a new mtime, the same bytes) is not edited."""
    entry = loaded(module)
    if entry is None or entry.stat is None or now is None:
        return None
    if entry.stat == now:
        return False
    return entry.digest is None or content_digest(module.__file__) != entry.digest


def _note(name: str, spec: Any) -> None:
    origin = getattr(spec, "origin", None)
    if not (isinstance(origin, str) and origin.endswith(".py")):
        return
    if not getattr(spec, "has_location", False) or is_headrace(name):
        return
    if file_kind(origin) != "user":
        return
    entry = Loaded(id(spec), file_stat(origin), content_digest(origin))
    with _LOCK:
        _LOADED[name] = entry


class _Watcher:
    """A meta-path finder that finds nothing itself: it asks the finders after it, notes the
    file of the spec they find (an import or an ``importlib.reload``) and returns that spec."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if getattr(_BUSY, "on", False):
            return None
        _BUSY.on = True
        try:
            finders = sys.meta_path
            rest = finders[finders.index(self) + 1 :] if self in finders else []
            for finder in rest:
                find = getattr(finder, "find_spec", None)
                if find is None:  # a legacy finder: let the import system ask them all
                    return None
                spec = find(name, path, target)
                if spec is not None:
                    _note(name, spec)
                    return spec
            return None
        finally:
            _BUSY.on = False

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


_WATCHER = _Watcher()


def watch() -> None:
    """Start noting module loads (once per process), and note the modules loaded so far."""
    if any(isinstance(f, _Watcher) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _WATCHER)
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        if spec is not None and name not in _LOADED:
            _note(name, spec)
