"""Modules edited since their import, shipped to worker processes as the source that was loaded.

A worker process that imports a user module by name reads its file as the file is now. When
the submitting process's module was edited on disk after its import and not reloaded (it
*drifted*), the worker would run the edit while the cache key describes the loaded code:
a stale result stored under the key. Shipping such a module by value covers only what is
pickled; a module reached through another one, or imported inside a component's body, is
still imported from the file. So the submitter sends an :class:`Overlay` with each task: the
source each drifted module was loaded from, as the import hook kept it (:func:`capture`).
The worker imports those names from that source, through a finder ahead of every other
(:func:`install`), and drops its user modules when what it has loaded is not what is
shipped, so every module that holds one of them is imported again too.

A drifted module whose loaded source is not known (its reload raised half-way, or it was
loaded before headrace from a file changed since) cannot be served this way; the caller
ships it by value instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import linecache
import os
import sys
import threading
import types
import uuid
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, SourceFileLoader
from typing import Any

from . import loads
from .modkind import file_kind, is_headrace

__all__ = ["Overlay", "Shipped", "capture", "install"]

_KEEP = frozenset({"__main__", "__mp_main__"})
"""Modules never dropped: the worker's own main module is not imported by name."""


@dataclass(frozen=True)
class Shipped:
    """One module as the submitting process loaded it.

    Attributes:
        name: the module's name.
        origin: its file.
        source: the bytes it was executed from.
        digest: the fingerprint of those bytes.
        package: whether it is a package (its file is an ``__init__.py``).
    """

    name: str
    origin: str
    source: bytes
    digest: str
    package: bool


@dataclass(frozen=True)
class Overlay:
    """The drifted modules a task ships (empty when nothing drifted: the usual case).

    Attributes:
        modules: the modules, by name.
        sender: the process that captured them (installing there does nothing: a Dask
            cluster with ``processes=False`` runs tasks in the submitting process).
    """

    modules: tuple[Shipped, ...] = ()
    sender: tuple[str, int] = ("", 0)


def capture() -> tuple[Overlay, list[types.ModuleType]]:
    """What to ship for the modules edited since their import: the overlay of those whose
    loaded source is known, and the others (to be shipped by value)."""
    shipped: dict[str, Shipped] = {}
    unknown = []
    for module, entry in loads.drifted():
        spec = module.__spec__
        if entry.known and entry.source is not None and entry.digest and spec and spec.origin:
            package = spec.submodule_search_locations is not None
            shipped[spec.name] = Shipped(
                spec.name, spec.origin, entry.source, entry.digest, package
            )
        else:
            unknown.append(module)
    with _LOCK:  # a worker passes on what it serves (a parallel-run step in a step worker)
        forwarded = {n: s for n, s in _SERVED.items() if n not in shipped}
    found = tuple(sorted({**shipped, **forwarded}.values(), key=lambda s: s.name))
    return Overlay(found, _this_process()), unknown


_TOKEN = uuid.uuid4().hex


def _this_process() -> tuple[str, int]:
    """This process, told apart from a fork of it (same token, another pid) and from a
    process reusing its pid (another token)."""
    return _TOKEN, os.getpid()


_SERVED: dict[str, Shipped] = {}
"""What this process's overlay finder serves: the last overlay installed."""
_LOCK = threading.Lock()
_SEEDED: set[str] = set()
"""Files whose lines ``linecache`` holds as shipped (never checked against the file)."""


def install(overlay: Overlay) -> None:
    """Make this (worker) process import the overlay's modules from the shipped source.

    When a module of the overlay is loaded here from other bytes, one served before is no
    longer shipped (the submitter reloaded it), or one loaded here from its file is not
    what the file holds now and is not shipped as it is (a long-lived Dask worker that
    imported it before an edit the submitter has since reloaded), every user source module
    is dropped from ``sys.modules``: those importing it hold its old objects, and are
    imported again. Compiled extensions are kept (many cannot be loaded twice).
    """
    if overlay.sender == _this_process():
        return
    wanted = {s.name: s for s in overlay.modules}
    here = {m.__name__: entry.digest for m, entry in loads.drifted()}  # one stat per module
    if not wanted and not _SERVED and not here:
        return
    with _LOCK:
        names = wanted.keys() | _SERVED.keys()
        stale = any(_loaded_other(name, wanted.get(name)) for name in names) or any(
            name not in wanted or wanted[name].digest != digest for name, digest in here.items()
        )
        _SERVED.clear()
        _SERVED.update(wanted)
        if wanted and not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _FINDER)
        if stale:
            _drop_user_modules()


def _loaded_other(name: str, shipped: Shipped | None) -> bool:
    """Whether the module ``name`` loaded here is not ``shipped`` (None: not shipped now, so
    it must be the file's, not what was served before)."""
    module = sys.modules.get(name)
    if module is None:
        return False
    entry = loads.loaded(module)
    served = isinstance(getattr(module, "__loader__", None), _ShippedLoader)
    if shipped is None:
        return served
    return entry is None or entry.digest != shipped.digest


def _drop_user_modules() -> None:
    for seeded in _SEEDED:  # the file's own lines again, for whatever is imported from it now
        linecache.cache.pop(seeded, None)
    _SEEDED.clear()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name in _KEEP or not isinstance(path, str) or is_headrace(name):
            continue
        if not path.endswith(".py"):
            continue  # a compiled extension: it may refuse a second load
        if file_kind(path) == "user":
            sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            kept = sys.modules.get(parent) if parent else None
            if kept is not None and getattr(kept, child, None) is module:
                delattr(kept, child)  # a kept namespace package would hand out the old one
    importlib.invalidate_caches()


class _ShippedLoader(SourceFileLoader):
    """Executes a module from shipped source (never from the file or its cached bytecode)."""

    def __init__(self, shipped: Shipped):
        super().__init__(shipped.name, shipped.origin)
        self.shipped = shipped

    def get_data(self, path: str) -> bytes:
        """The shipped source for the module's file; other files (data next to it) as they are."""
        if path == self.path:
            return self.shipped.source
        return super().get_data(path)

    def get_code(self, fullname: str) -> types.CodeType:
        """The shipped source, compiled."""
        return self.source_to_code(self.shipped.source, self.path)  # type: ignore[return-value]

    def exec_module(self, module: types.ModuleType) -> None:
        """Execute the module, and note it as loaded from the shipped source (which
        tracebacks show, not the file's lines)."""
        lines = self.shipped.source.decode("utf-8", "replace").splitlines(keepends=True)
        linecache.cache[self.path] = (len(self.shipped.source), None, lines, self.path)
        _SEEDED.add(self.path)
        super().exec_module(module)
        if module.__spec__ is not None:
            loads.note_shipped(module.__spec__, self.shipped.digest, self.shipped.source)


class _Finder:
    """Finds the overlay's modules; every other name is left to the finders after it."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        shipped = _SERVED.get(name)
        if shipped is None:
            return None
        search = [os.path.dirname(shipped.origin)] if shipped.package else None
        return importlib.util.spec_from_file_location(
            name, shipped.origin, loader=_ShippedLoader(shipped), submodule_search_locations=search
        )

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


_FINDER = _Finder()
