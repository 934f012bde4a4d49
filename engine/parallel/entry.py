"""The entry script of a parallel-run step: where it is, checking it, loading it, fingerprinting it
(calling it is ``invocation.py``).

An entry is Azure's contract (a module with ``init(...)``, ``run(mini_batch)`` and optional
``shutdown()``) or a class (``__init__(...)`` loads, ``__call__(mini_batch)`` scores). It is
named by a ``.py`` file, a dotted module name, a module object or a class.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import types
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParallelRunError
from ..fingerprint.import_time import keyed_environment
from .helpers import own_helpers
from .invocation import entry_setting, exits_explained

FILE, MODULE, CLASS = "file", "module", "class"


@dataclass(frozen=True)
class EntryRef:
    """A picklable reference to an entry.

    Attributes:
        kind: "file", "module" or "class".
        path: the ``.py`` file (kind "file").
        module: the dotted module name (kinds "module" and "class").
        qualname: the class's qualified name (kind "class").
        by_value: the class pickled by value when its module cannot be imported elsewhere.
    """

    kind: str
    path: str = ""
    module: str = ""
    qualname: str = ""
    by_value: bytes = b""

    @property
    def label(self) -> str:
        """How messages name the entry."""
        if self.kind == FILE:
            return self.path
        return f"{self.module}.{self.qualname}" if self.kind == CLASS else self.module


def resolve_entry(
    where: str,
    entry: Any,
    base_dir: Path,
    arguments: tuple[str, ...] = (),
    env: tuple[tuple[str, str], ...] = (),
) -> tuple[EntryRef | None, list[str]]:
    """The reference for ``entry`` and the problems found with it (at pipeline build time).

    Args:
        where: how messages name the step.
        entry: a ``.py`` path (relative to ``base_dir``), a dotted module name, a module or a class.
        base_dir: the folder of the file that called ``parallel_run``.
        arguments: the step's ``arguments=``, ``sys.argv[1:]`` while a dotted module is imported.
        env: the step's ``environment_variables=``, set while it is imported.
    """
    if isinstance(entry, type):
        return _class_ref(where, entry)
    if isinstance(entry, types.ModuleType):
        return _module_ref(where, entry)
    if isinstance(entry, (str, os.PathLike)) and str(entry).endswith(".py"):
        return _file_ref(where, Path(entry), base_dir)
    if isinstance(entry, str) and entry:
        try:
            with entry_setting(entry, arguments, env), exits_explained():
                module = importlib.import_module(entry)
        except ImportError as exc:
            return None, [
                f"{where}, argument entry={entry!r}: the module cannot be imported ({exc}); "
                "give a .py file, or a dotted module name that is importable here"
            ]
        except Exception as exc:
            return None, [f"{where}, argument entry={entry!r}: {_import_failed(exc)}"]
        return _module_ref(where, module)
    return None, [
        f"{where}, argument entry={entry!r}: give a .py file, a dotted module name, "
        "a module or a class"
    ]


def _file_ref(where: str, path: Path, base_dir: Path) -> tuple[EntryRef | None, list[str]]:
    full = (path if path.is_absolute() else base_dir / path).resolve()
    if not full.is_file():
        return None, [
            f"{where}, argument entry={str(path)!r}: the file {str(full)!r} does not exist; "
            "give a path relative to the file that defines the step, or an absolute one"
        ]
    try:
        tree = ast.parse(full.read_text(), str(full))
    except SyntaxError as exc:
        return None, [f"{where}, argument entry={str(path)!r}: {exc}; fix the entry script"]
    names = _top_level_names(tree)
    if "run" not in names:
        return None, [
            f"{where}, argument entry={str(path)!r}: the entry defines no run(mini_batch); "
            "add `def run(mini_batch):` returning one result per item (and optionally "
            "init() and shutdown())"
        ]
    return EntryRef(FILE, path=str(full)), []


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _module_ref(where: str, module: types.ModuleType) -> tuple[EntryRef | None, list[str]]:
    if not callable(getattr(module, "run", None)):
        return None, [
            f"{where}, argument entry={module.__name__!r}: the module defines no "
            "run(mini_batch); add `def run(mini_batch):` returning one result per item"
        ]
    name = module.__name__
    if name == "__main__":
        path = getattr(module, "__file__", None)
        if path is None:
            return None, [
                f"{where}, argument entry: a module without a file cannot be loaded by the "
                "worker processes; put the entry in a .py file"
            ]
        return EntryRef(FILE, path=str(Path(path).resolve())), []
    return EntryRef(MODULE, module=name), []


def _class_ref(where: str, cls: type) -> tuple[EntryRef | None, list[str]]:
    if not any("__call__" in vars(k) for k in cls.__mro__ if k is not object):
        return None, [
            f"{where}, argument entry={cls.__qualname__}: the class has no "
            "__call__(self, mini_batch); add one returning one result per item"
        ]
    module = sys.modules.get(cls.__module__)
    importable = (
        module is not None
        and cls.__module__ != "__main__"
        and "<locals>" not in cls.__qualname__
        and getattr(module, "__file__", None) is not None
    )
    if importable:
        return EntryRef(CLASS, module=cls.__module__, qualname=cls.__qualname__), []
    import cloudpickle

    by_value = cloudpickle.dumps(cls)
    _LIVE[by_value] = cls
    return EntryRef(CLASS, module=cls.__module__, qualname=cls.__qualname__, by_value=by_value), []


_LIVE: weakref.WeakValueDictionary[bytes, type] = weakref.WeakValueDictionary()
"""Classes pickled by value, by their pickle: in the process that defined one, loading the
entry gives the class itself. Unpickling it there would not give a copy: cloudpickle finds
the live class and overwrites its methods with copies whose globals are detached from the
user's module."""


def load_entry(ref: EntryRef) -> Any:
    """The module or class ``ref`` names, loaded in this process."""
    if ref.kind == FILE:
        return _load_file(ref.path)
    if ref.kind == MODULE:
        return importlib.import_module(ref.module)
    if ref.by_value:
        live = _LIVE.get(ref.by_value)
        if live is not None:
            return live
        import pickle

        return pickle.loads(ref.by_value)
    obj: Any = importlib.import_module(ref.module)
    for part in ref.qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _load_file(path: str) -> types.ModuleType:
    """Execute an entry file as a fresh module (its folder first on sys.path, for its helpers).

    Raises:
        ParallelRunError: a helper beside it has the name of another entry folder's helper.
    """
    folder = os.path.dirname(path)
    if folder in sys.path:  # first: a sys.path copied from the submitter may list others first
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    name = f"headrace_entry_{Path(path).stem}_{abs(hash(path)) % 10**8}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    from ..fingerprint import loads

    loads.track(spec)  # an edit after this load is seen (the import hooks never see it)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # fingerprints read a module's source through sys.modules
    try:
        with own_helpers(folder, module):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


_FILE_FPS: dict[tuple[Any, ...], str] = {}


def entry_fingerprint(
    ref: EntryRef,
    arguments: tuple[str, ...] = (),
    env: tuple[tuple[str, str], ...] = (),
    where: str = "parallel_run step",
) -> str:
    """The code fingerprint of the entry (its functions or class, helpers, constants, libraries).

    A file entry is loaded afresh when the file changed since it was last fingerprinted here.
    It is loaded as the workers load it, under the step's ``arguments`` and ``env``: an Azure
    script may read ``sys.argv`` or ``os.environ`` at import.

    Raises:
        ParallelRunError: importing the entry failed (named by ``where``, how messages name
            the step).
    """
    if ref.kind == FILE:
        st = os.stat(ref.path)
        key = (ref.path, st.st_mtime_ns, st.st_size, arguments, env)
        if key not in _FILE_FPS:
            try:
                with entry_setting(ref.label, arguments, env), exits_explained():
                    module = _load_file(ref.path)
            except ParallelRunError as exc:
                raise ParallelRunError(f"{where}: {exc}") from exc
            except Exception as exc:
                raise ParallelRunError(
                    f"{where}, entry {ref.label}: {_import_failed(exc)}"
                ) from exc
            with keyed_environment(frozenset(name for name, _ in env)):
                _FILE_FPS[key] = _fingerprint_loaded(module)
        return _FILE_FPS[key]
    with keyed_environment(frozenset(name for name, _ in env)):
        return _fingerprint_loaded(load_entry(ref))


def _import_failed(exc: Exception) -> str:
    return (
        f"importing it raised {type(exc).__name__}: {exc}. It is imported once in the "
        "submitting process too, to fingerprint its code, with arguments= as sys.argv and "
        "environment_variables= set, as in the workers; fix the entry, or give what it "
        "reads at import in arguments= or environment_variables="
    )


def _fingerprint_loaded(entry: Any) -> str:
    from ..fingerprint.digest import combine
    from ..fingerprint.keys import code_fingerprint

    if isinstance(entry, type):
        return combine(b"headrace.parallel-entry.v1\0", [("class", code_fingerprint(entry))])
    parts = [
        (name, code_fingerprint(fn))
        for name in ("init", "run", "shutdown")
        if callable(fn := getattr(entry, name, None))
    ]
    return combine(b"headrace.parallel-entry.v1\0", parts)
