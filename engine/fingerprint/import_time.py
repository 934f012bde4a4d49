"""Constants computed at import from the clock or the environment: a cache key covers the
source that computes them, not the value, so a step that uses one is warned about once.

A parallel-run entry is fingerprinted under the environment its step sets
(``environment_variables=``, which its key covers): reading those names is not warned.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import warnings
from collections.abc import Iterator

IMPORT_TIME = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("os", "environ"),
    ("os", "getenv"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
    ("socket", "gethostname"),
    ("getpass", "getuser"),
}
_ENVIRONMENT = {("os", "environ"), ("os", "getenv")}
_WARNED: set[tuple[str, str]] = set()
_KEYED_ENV: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "headrace_keyed_env", default=frozenset()
)


@contextlib.contextmanager
def keyed_environment(names: frozenset[str]) -> Iterator[None]:
    """While fingerprinting code whose key covers the environment variables ``names``."""
    token = _KEYED_ENV.set(names)
    try:
        yield
    finally:
        _KEYED_ENV.reset(token)


def warn_if_import_time_value(name: str, stmts: list[ast.stmt], module: str) -> None:
    """Warn once when a constant a step uses comes from the clock or the environment."""
    seen = {
        c[-2:]
        for st in stmts
        for sub in ast.walk(st)
        if (c := attribute_chain(sub)) and len(c) >= 2
    }
    hits = sorted(seen & IMPORT_TIME)
    if not hits or (module, name) in _WARNED:
        return
    if set(hits) <= _ENVIRONMENT and _reads_only(stmts, _KEYED_ENV.get()):
        return
    _WARNED.add((module, name))
    call = ".".join(hits[0])
    warnings.warn(
        f"headrace: {name} (module {module}) is computed at import from {call}; a cache key "
        "covers the source that computes it, not the value it had, so a new value does not "
        "re-run the steps that use it. Pass it as a pipeline parameter, or mark those "
        "components deterministic=False.",
        stacklevel=5,
    )


def _reads_only(stmts: list[ast.stmt], keyed: frozenset[str]) -> bool:
    """Whether every environment read in ``stmts`` names, as a literal, a variable in
    ``keyed`` (``os.environ["X"]``, ``os.environ.get("X")``, ``os.getenv("X")``)."""
    if not keyed:
        return False
    for st in stmts:
        for node in ast.walk(st):
            chain = attribute_chain(node)
            if not chain or chain[-2:] not in _ENVIRONMENT:
                continue
            if _literal_name(node, st) not in keyed:
                return False
    return True


def _literal_name(node: ast.AST, stmt: ast.stmt) -> str | None:
    """The variable name read through the ``os.environ``/``os.getenv`` node, when a literal."""
    for parent in ast.walk(stmt):
        if isinstance(parent, ast.Subscript) and parent.value is node:
            key = parent.slice
        elif (
            isinstance(parent, ast.Call)
            and parent.args
            and (
                parent.func is node
                or (isinstance(parent.func, ast.Attribute) and parent.func.value is node)
            )
        ):
            key = parent.args[0]
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        return None
    return None


def attribute_chain(node: ast.AST) -> tuple[str, ...] | None:
    """The dotted names of an attribute access (``os.environ.get`` -> os, environ, get)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not parts or not isinstance(node, ast.Name):
        return None
    return (node.id, *reversed(parts))
