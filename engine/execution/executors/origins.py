"""Where shipped code came from: file names and source lines that by-value pickling drops.

cloudpickle ships code the receiver cannot import by value, and since 3.1.3 it names every such
code object ``"<dynamic-code>"``: a step failing on a worker then shows no file and no source
line. The sender records each code object's file and that file's source (:func:`collect`); the
receiver puts the file names back and seeds :mod:`linecache` with the source (:func:`restore`),
so tracebacks name the user's file and line whatever cloudpickle version is installed.
"""

from __future__ import annotations

import linecache
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

DYNAMIC = "<dynamic-code>"

CodeKey = tuple[str, str, int]
"""(qualified name, name, first line) of a code object: how the receiver finds it again."""


@dataclass(frozen=True)
class Origins:
    """The files of one module's code objects, and those files' source lines.

    Attributes:
        module: the module shipped by value.
        files: code key → the file it was compiled from.
        sources: file → its lines as read when the task was shipped.
    """

    module: str
    files: dict[CodeKey, str]
    sources: dict[str, list[str]]


def collect(fn: Callable[..., Any]) -> Origins:
    """Record the files of every code object reachable from ``fn`` in its own module."""
    module = getattr(fn, "__module__", "") or ""
    files: dict[CodeKey, str] = {}
    for code in _codes(fn, module):
        if code.co_filename != DYNAMIC:
            files[_key(code)] = code.co_filename
    sources = {}
    for path in set(files.values()):
        lines = _source_lines(path)
        if lines:
            sources[path] = lines
    return Origins(module, files, sources)


def restore(fn: Callable[..., Any], origins: Origins) -> None:
    """Give the code objects reachable from ``fn`` their file names back; seed linecache."""
    for path, lines in origins.sources.items():
        linecache.cache[path] = (sum(map(len, lines)), None, lines, path)
    seen: set[int] = set()
    for f in _functions(fn, origins.module):
        if id(f) in seen:
            continue
        seen.add(id(f))
        f.__code__ = _renamed(f.__code__, origins.files)


def _renamed(code: types.CodeType, files: dict[CodeKey, str]) -> types.CodeType:
    consts = tuple(
        _renamed(c, files) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    path = files.get(_key(code)) if code.co_filename == DYNAMIC else None
    if path is None and consts == code.co_consts:
        return code
    return code.replace(co_filename=path or code.co_filename, co_consts=consts)


def _key(code: types.CodeType) -> CodeKey:
    return (getattr(code, "co_qualname", code.co_name), code.co_name, code.co_firstlineno)


def _codes(fn: Callable[..., Any], module: str) -> Iterator[types.CodeType]:
    for f in _functions(fn, module):
        stack = [f.__code__]
        while stack:
            code = stack.pop()
            yield code
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def _functions(root: Any, module: str) -> Iterator[types.FunctionType]:
    """Functions of ``module`` reachable from ``root`` through globals, closures and classes."""
    seen: set[int] = set()
    stack = [getattr(root, "__wrapped__", root), root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.FunctionType) and obj.__module__ == module:
            yield obj
            names = obj.__code__.co_names
            stack.extend(obj.__globals__[n] for n in names if n in obj.__globals__)
            stack.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
            stack.extend(v for v in (obj.__defaults__ or ()) if callable(v))
        elif isinstance(obj, type) and obj.__module__ == module:
            stack.extend(vars(obj).values())
        elif isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, property):
            stack.extend(f for f in (obj.fget, obj.fset, obj.fdel) if f is not None)
        elif hasattr(obj, "__wrapped__") and getattr(obj, "__module__", None) == module:
            stack.append(obj.__wrapped__)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell
        return False
    return True


def _source_lines(path: str) -> list[str]:
    """The lines linecache has for ``path`` (as loaded), else as the file reads now."""
    return linecache.getlines(path)
