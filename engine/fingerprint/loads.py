"""What each user module's file was when the interpreter loaded it.

A module edited on disk after its import, and not reloaded, runs its old code while its file
says something else. The source fingerprints must then not be trusted (``source.py`` calls
the module *drifted*). The definitions can be compared with the loaded bytecode, but a
module-level value cannot: ``C = {3, 5}`` edited to ``{3, 5, 8}`` looks exactly like a set
filled at run time. So the file's stat and the fingerprint of its bytes are taken as the
module is executed, by an import hook that only watches: it finds the spec as the other
finders would and wraps that spec's own loader, so a file is noted once its module ran to the
end. A module whose execution raised (a failed ``importlib.reload`` leaves old and new code
mixed) is not trusted, nor is one loaded before headrace from a file that changed after the
process started; cached bytecode that may be stale is never run (the source is compiled
instead). Only the user's own files
are noted, not the standard library's or installed ones. Code that loads a file by path
(``spec_from_file_location``) calls :func:`track` with its spec.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib.machinery import ModuleSpec, SourceFileLoader
from importlib.util import cache_from_source
from typing import Any

from .digest import hash_bytes
from .modkind import file_kind, is_headrace

__all__ = [
    "Loaded",
    "Stat",
    "content_digest",
    "drifted",
    "edited_since_load",
    "file_stat",
    "loaded",
    "note_loaded_before",
    "note_shipped",
    "track",
    "WatchedLoader",
    "watch",
]

Stat = tuple[int, int, int, int]
"""A file's (mtime_ns, size, inode, ctime_ns): the system sets ctime on every change, so
two different writes never share a stat unless they fall in the same clock tick."""


@dataclass(frozen=True)
class Loaded:
    """A user module's file as it was loaded.

    Attributes:
        spec_id: the id of the import's spec (a reload makes a new one).
        stat: the file's stat then.
        digest: a digest of its bytes then (None when it could not be read).
        known: False when what ran may not be these bytes: the module's execution raised,
            or it was loaded before headrace from a file changed since the process started.
        source: the bytes themselves, when known (what a worker process is given to import
            when the file has been edited since, see ``overlay.py``).
    """

    spec_id: int
    stat: Stat | None
    digest: str | None
    known: bool = True
    source: bytes | None = field(default=None, compare=False, repr=False)


_LOADED: dict[int, tuple[weakref.ref[Any], Loaded]] = {}
"""id of a spec (or of a module without one) → (a weak reference to it, its note)."""
_LOCK = threading.Lock()
_BUSY = threading.local()
_PYC_HEADER = 16


def file_stat(path: str | None) -> Stat | None:
    """``path``'s (mtime_ns, size, inode, ctime_ns), or None when it has none or cannot be
    read."""
    try:
        st = os.stat(path) if path else None
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns) if st is not None else None


def content_digest(path: str | None) -> str | None:
    """The fingerprint of the bytes of ``path``, or None when it cannot be read."""
    data = _read(path)
    return hash_bytes(data) if data is not None else None


def _read(path: str | None) -> bytes | None:
    try:
        with open(path or "", "rb") as f:
            return f.read()
    except (OSError, ValueError):
        return None


def loaded(module: types.ModuleType) -> Loaded | None:
    """How this loaded version of ``module``'s file was, or None when headrace did not see
    it load (a module made in code, or loaded by a loader called directly)."""
    holder = _holder(module)
    found = _LOADED.get(id(holder))
    if found is None or found[0]() is not holder:
        return None
    return found[1]


def _holder(module: types.ModuleType) -> Any:
    """What a module's note is kept by: its spec (a reload makes a new one), or the module
    itself when it has none (a script run as ``python script.py``)."""
    spec = getattr(module, "__spec__", None)
    return spec if spec is not None else module


def edited_since_load(module: types.ModuleType, now: Stat | None) -> bool | None:
    """Whether ``module``'s file (whose stat is ``now``) holds other bytes than the code that
    runs was loaded from; None when that is not known. A file saved again unchanged (a new
    mtime, the same bytes) is not edited; a module not known to run its file's bytes is."""
    entry = loaded(module)
    if entry is None:
        return None
    if not entry.known:
        return True
    if entry.stat is None or now is None:
        return None
    if entry.stat == now:
        return False
    same = entry.digest is not None and content_digest(module.__file__) == entry.digest
    if same and now[3] < time.time_ns() - _RACY_NS:
        _restat(_holder(module), entry, now)  # saved again unchanged: compare the stat alone
    return not same


_RACY_NS = 3_000_000_000
"""A stat stands for the bytes only once its ctime is this old (git's "racy" rule): on a
coarse clock (FAT, SMB, some NFS) a second write in the same tick gets the same stat."""


def _restat(holder: Any, entry: Loaded, now: Stat) -> None:
    with _LOCK:
        found = _LOADED.get(id(holder))
        if found is not None and found[0]() is holder and found[1] is entry:
            _LOADED[id(holder)] = (found[0], replace(entry, stat=now))


def drifted() -> list[tuple[types.ModuleType, Loaded]]:
    """The user modules headrace saw load whose file now holds other bytes (or is gone),
    with how each was loaded (one stat per module; the bytes are read only when the stat
    changed)."""
    with _LOCK:
        entries = list(_LOADED.values())
    found = []
    for ref, entry in entries:
        holder = ref()
        if isinstance(holder, types.ModuleType):
            continue  # a script run by path: never imported by name elsewhere
        module = sys.modules.get(holder.name) if holder is not None else None
        if module is None or getattr(module, "__spec__", None) is not holder:
            continue  # an older module object, no longer what its name imports
        now = file_stat(getattr(module, "__file__", None))
        if now is None:  # renamed or deleted: a worker can import it only from the source
            if entry.known and entry.source is not None:
                found.append((module, entry))
        elif edited_since_load(module, now):
            found.append((module, entry))
    return found


def note_shipped(spec: ModuleSpec, digest: str, source: bytes) -> None:
    """Note a module a worker process executed from shipped ``source`` rather than from its
    file: it counts as edited since its load whenever the file holds other bytes."""
    _record(spec, Loaded(id(spec), _NEVER, digest, True, source))


_NEVER: Stat = (-1, -1, -1, -1)
"""A stat no file has: the file's bytes are compared each time."""


def _record(spec: Any, entry: Loaded) -> None:
    key = id(spec)

    def forget(_: Any, key: int = key) -> None:
        with _LOCK:
            found = _LOADED.get(key)
            if found is not None and found[0]() is None:
                del _LOADED[key]

    with _LOCK:
        _LOADED[key] = (weakref.ref(spec, forget), entry)


def _user_file(name: str, spec: Any) -> str | None:
    """The spec's ``.py`` file when it is one of the user's own, else None."""
    origin = getattr(spec, "origin", None)
    if not (isinstance(origin, str) and origin.endswith(".py")):
        return None
    if not getattr(spec, "has_location", False) or is_headrace(name):
        return None
    return origin if file_kind(origin) == "user" else None


def _noted(spec: Any, origin: str) -> Loaded:
    stat = file_stat(origin)  # before the bytes: an edit in between reads as drifted, not as fresh
    data = _read(origin)
    return Loaded(id(spec), stat, hash_bytes(data) if data is not None else None, True, data)


def track(spec: ModuleSpec) -> None:
    """Note the file of ``spec``'s module once the module has been executed from it.

    The import hook calls this for every spec it sees; code that loads a file by path calls
    it before ``importlib.util.module_from_spec``. The standard ``SourceFileLoader`` of the
    spec is swapped for a subclass that takes the note as the module executes and keeps it
    only when the module ran to the end; a module any other loader makes (pytest's) is noted
    at once.
    """
    origin = _user_file(spec.name, spec)
    if origin is None or isinstance(spec.loader, WatchedLoader):
        return
    if type(spec.loader) is SourceFileLoader:
        spec.loader = WatchedLoader(spec.name, origin)
    else:
        _record(spec, _noted(spec, origin))


class WatchedLoader(SourceFileLoader):
    """The standard source loader, which notes the file as it executes the module and never
    runs bytecode that may be stale.

    While it executes the module, the file's stat and bytes are the ones noted: the cached
    bytecode is checked against that stat and the source compiled is those bytes, so what
    runs is what was noted even when the file is saved during the import.
    """

    _executing: Loaded | None = None

    def exec_module(self, module: types.ModuleType) -> None:
        """Execute ``module`` from the file, and note the file when that ran to the end."""
        spec = module.__spec__
        entry = _noted(spec, self.path) if spec is not None else None
        self._executing = entry
        try:
            super().exec_module(module)
        except BaseException:
            if spec is not None and entry is not None:
                _record(spec, Loaded(entry.spec_id, entry.stat, entry.digest, known=False))
            raise
        finally:
            self._executing = None
        if spec is not None and entry is not None:
            _record(spec, entry)

    def path_stats(self, path: str) -> Mapping[str, Any]:
        """The noted stat of the module's file while it executes, else the file's own."""
        entry = self._executing
        if path == self.path and entry is not None and entry.stat and entry.source is not None:
            return {"mtime": entry.stat[0] / 1e9, "size": entry.stat[1]}
        return super().path_stats(path)

    def get_data(self, path: str) -> bytes:
        """The noted bytes of the module's file while it executes, else the file's own."""
        entry = self._executing
        if entry is not None and entry.source is not None and path == self.path:
            return entry.source
        return super().get_data(path)

    def get_code(self, fullname: str) -> types.CodeType | None:
        """The module's code: from the source when the cached bytecode may be stale."""
        if _bytecode_may_be_stale(self.path):
            with contextlib.suppress(OSError):
                os.unlink(cache_from_source(self.path))  # Python writes it afresh next time
            return self.source_to_code(self.get_data(self.path), self.path)  # type: ignore[return-value]
        return super().get_code(fullname)


def _bytecode_may_be_stale(source: str) -> bool:
    """Whether the cached bytecode of ``source`` passes Python's check (the same whole second
    and size) although the file was written after it: an edit within a second of the last."""
    try:
        cached = cache_from_source(source)
        src, pyc = os.stat(source), os.stat(cached)
        if src.st_mtime_ns <= pyc.st_mtime_ns:
            return False
        with open(cached, "rb") as f:
            header = f.read(_PYC_HEADER)
    except (OSError, ValueError, NotImplementedError):
        return False
    if len(header) < _PYC_HEADER or int.from_bytes(header[4:8], "little") != 0:
        return False  # unreadable, or checked by the source's hash
    mtime = int.from_bytes(header[8:12], "little")
    size = int.from_bytes(header[12:16], "little")
    return mtime == int(src.st_mtime) & 0xFFFFFFFF and size == src.st_size & 0xFFFFFFFF


class _Watcher:
    """A meta-path finder that finds nothing itself: it asks the finders after it, tracks the
    spec they find (an import or an ``importlib.reload``) and returns that spec."""

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
                    track(spec)
                    return spec
            return None
        finally:
            _BUSY.on = False

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


_WATCHER = _Watcher()
_TICK_SLACK_NS = 50_000_000
"""How long after the process start an edit still counts as made before the import, when the
start is read from ``/proc`` (good to a clock tick, 10 ms)."""
_PSUTIL_SLACK_NS = 2_000_000_000
"""The same when psutil gives the start: it is known to about a second on some systems."""


def watch() -> None:
    """Start noting module loads (once per process), and note the modules loaded so far."""
    if any(isinstance(f, _Watcher) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _WATCHER)
    note_loaded_before(list(sys.modules.items()), _edits_before_import_until)


def note_loaded_before(
    modules: list[tuple[str, types.ModuleType]], trusted_until: Callable[[], int]
) -> None:
    """Note user modules loaded before the watcher: their files as they are now, but not
    trusted when changed after ``trusted_until()`` (ns since the epoch: the process start,
    give or take how well it is known), as the code that runs may be older; nor when their
    cached bytecode may be stale (it may be what ran)."""
    until: int | None = None
    for name, module in modules:
        holder = _holder(module)
        origin = _user_file(name, holder) if holder is not module else _script_file(module)
        if origin is None or loaded(module) is not None:
            continue
        entry = _noted(holder, origin)
        if entry.stat is not None:
            until = trusted_until() if until is None else until
            if entry.stat[0] > until or _bytecode_may_be_stale(origin):
                entry = Loaded(entry.spec_id, entry.stat, entry.digest, known=False)
        _record(holder, entry)


def _script_file(module: types.ModuleType) -> str | None:
    """The file of a module without a spec (``python script.py``'s ``__main__``) when it is
    one of the user's own ``.py`` files, else None."""
    path = getattr(module, "__file__", None)
    if not (isinstance(path, str) and path.endswith(".py")):
        return None
    path = os.path.abspath(path)
    return path if file_kind(path) == "user" else None


def _edits_before_import_until() -> int:
    """The process start plus how well it is known, in ns since the epoch."""
    try:
        return _proc_start_ns() + _TICK_SLACK_NS
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return int(psutil.Process().create_time() * 1e9) + _PSUTIL_SLACK_NS


def _process_start_ns() -> int:
    """When this process started, in ns since the epoch (``time.time_ns()``'s clock)."""
    try:
        return _proc_start_ns()
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return int(psutil.Process().create_time() * 1e9)


def _proc_start_ns() -> int:
    """Linux: the start in clock ticks since boot, against the time since boot."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    ticks = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    return time.time_ns() - int((since_boot - ticks) * 1e9)
