"""Code fingerprints: normalized function source plus the helpers, libraries, constants it uses."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
import types
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .digest import CODE, UnhashableInput, domain_hasher, fingerprint_value, update_str
from .modkind import distribution, module_kind

__all__ = ["code_fingerprint", "code_ingredients"]


@dataclass(frozen=True)
class _Local:
    """What one function or class says by itself: its digest and the names it uses."""

    digest: str
    names: frozenset[str]
    chains: frozenset[tuple[str, ...]]


# Per function/class object (identity, weak): the parse is the expensive part. A reloaded
# module makes new objects, so edited code is never served from here.
_LOCAL: weakref.WeakKeyDictionary[Any, _Local] = weakref.WeakKeyDictionary()


def code_fingerprint(fn: Callable[..., Any], version: str | None = None) -> str:
    """Fingerprints a function's code and everything it depends on (see ``code_ingredients``).

    Args:
        fn: The function (decorated ones are unwrapped through ``__wrapped__``).
        version: An extra version string (a component's ``version=``).
    """
    hasher = domain_hasher(CODE)
    for label, value in sorted(code_ingredients(fn, version).items()):
        update_str(hasher, label)
        update_str(hasher, value)
    return hasher.hexdigest()


def code_ingredients(fn: Callable[..., Any], version: str | None = None) -> dict[str, str]:
    """Lists what a code fingerprint is made of, label -> digest or version.

    ``code`` is the function's source with comments, docstrings, decorators and formatting
    removed (its AST); ``fn:``/``class:`` entries are helpers from the user's own modules it
    references (globals, closure cells, ``module.attr`` chains), transitively; ``lib:``
    entries are third-party distributions with their versions; ``const:`` entries are
    module-level constants (primitive values, or user objects whose attributes all are) by
    value; ``version`` is ``version``. The standard library adds nothing. Labels never
    contain module names, so the same file imported under another name fingerprints alike.

    Args:
        fn: The function.
        version: An extra version string.
    """
    walker = _Walker()
    walker.visit(fn, "code")
    walker.items["version"] = repr(version)
    return walker.items


class _Walker:
    """Collects ingredients, visiting each user function or class once (cycle guard)."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.seen: set[int] = set()

    def add(self, label: str, value: str) -> None:
        """Records an ingredient; a different one under a taken label gets ``#2``, ``#3``...

        Labels name things by qualified name within their module but never by module:
        the user's pipeline file may be ``__main__`` in one run and imported under a
        path-derived name in the next, and that must not change the fingerprint.

        Args:
            label: What it is, e.g. ``fn:clean`` or ``const:THRESHOLD``.
            value: Its digest, value fingerprint or version.
        """
        unique, n = label, 1
        while self.items.get(unique, value) != value:
            n += 1
            unique = f"{label}#{n}"
        self.items[unique] = value

    def visit(self, obj: Any, label: str) -> None:
        obj = inspect.unwrap(obj) if callable(obj) else obj
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if isinstance(obj, functools.partial):
            self.add(f"{label}.partial", _value_or_type((obj.args, obj.keywords)))
            self.visit(obj.func, label)
            return
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if isinstance(obj, types.FunctionType):
            local, cells, globals_ = _function_local(obj), _closure(obj), obj.__globals__
        elif isinstance(obj, type):
            local, cells, module = _class_local(obj), {}, inspect.getmodule(obj)
            globals_ = vars(module) if module is not None else {}
        elif callable(obj):
            self.visit(type(obj), label)
            return
        else:
            raise TypeError(f"code_fingerprint needs a function or class, not {obj!r}")
        self.add(label, local.digest)
        self._resolve(local, label, cells, globals_)

    def _resolve(
        self, local: _Local, where: str, cells: dict[str, Any], globals_: dict[str, Any]
    ) -> None:
        for name in sorted(local.names):
            if name in cells:
                self.reference(cells[name], f"{where}.<cell>.{name}")
            elif name in globals_:
                self.reference(globals_[name], name)
        for chain in sorted(local.chains):
            root = cells.get(chain[0], globals_.get(chain[0], _MISSING))
            if isinstance(root, types.ModuleType):
                self._reference_chain(root, chain)

    def _reference_chain(self, obj: Any, chain: tuple[str, ...]) -> None:
        for depth, attr in enumerate(chain[1:], start=2):
            if not isinstance(obj, types.ModuleType) or module_kind(obj.__name__) != "user":
                return
            if not hasattr(obj, attr):
                return
            obj = getattr(obj, attr)
            self.reference(obj, ".".join(chain[:depth]))

    def reference(self, obj: Any, label: str) -> None:
        """Adds what a referenced object contributes.

        Args:
            obj: The object a name resolved to.
            label: ``module.name`` where it was found (for constants).
        """
        if isinstance(obj, types.ModuleType):
            if self._is_user(obj.__name__):  # a bare user module: its name (attrs via chains)
                self.add(f"module:{obj.__name__.rpartition('.')[2]}", "")
        elif _is_code(obj):
            owner = _owner(obj)
            if self._is_user(owner) and not isinstance(obj, types.BuiltinFunctionType):
                self.visit(obj, f"{_kind_prefix(obj)}:{_qualname(obj)}")
        elif (value := _primitive(obj)) is not None:
            self.add(f"const:{label}", value)
        elif self._is_user(owner := type(obj).__module__):  # an instance of a user class
            self.visit(type(obj), f"class:{type(obj).__qualname__}")
            if (state := _instance_state(obj)) is not None:
                self.add(f"const:{label}", state)

    def _is_user(self, owner: str) -> bool:
        """Records a library's version; True only when ``owner`` is the user's own code."""
        kind = module_kind(owner) if owner else "user"
        if kind == "library":
            name, version = distribution(owner)
            self.add(f"lib:{name}", version)
        return kind == "user"


_MISSING = object()


def _owner(obj: Any) -> str:
    owner = getattr(obj, "__module__", None)
    if not isinstance(owner, str):
        owner = type(obj).__module__
    return owner or ""


def _is_code(obj: Any) -> bool:
    code_types = (types.FunctionType, type, functools.partial, types.MethodType)
    return isinstance(obj, code_types + (types.BuiltinFunctionType,))


def _kind_prefix(obj: Any) -> str:
    return "class" if isinstance(obj, type) else "fn"


def _qualname(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__)))


def _primitive(obj: Any) -> str | None:
    try:
        return fingerprint_value(obj)
    except UnhashableInput:
        return None


def _instance_state(obj: Any) -> str | None:
    """A user-class instance whose attributes are all primitive (a config object) by value."""
    try:
        return fingerprint_value(vars(obj))
    except TypeError:
        return None


def _value_or_type(value: Any) -> str:
    try:
        return fingerprint_value(value)
    except UnhashableInput:
        return repr(type(value))


def _closure(fn: types.FunctionType) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell (not yet assigned)
            continue
    return cells


def _function_local(fn: types.FunctionType) -> _Local:
    cached = _LOCAL.get(fn)
    if cached is None:
        node = _parse(fn, fn.__name__)
        cached = _bytecode_local(fn.__code__, fn) if node is None else _ast_local(node)
        _LOCAL[fn] = cached
    return cached


def _class_local(cls: type) -> _Local:
    cached = _LOCAL.get(cls)
    if cached is None:
        node = _parse(cls, cls.__name__)
        if node is None:
            members = [_function_local(m) for m in vars(cls).values() if inspect.isfunction(m)]
            hasher = domain_hasher(CODE)
            update_str(hasher, cls.__qualname__)
            for member in sorted(members, key=lambda local: local.digest):
                update_str(hasher, member.digest)
            names = frozenset().union(*(m.names for m in members))
            cached = _Local(hasher.hexdigest(), names, frozenset())
        else:
            cached = _ast_local(node)
        _LOCAL[cls] = cached
    return cached


def _parse(obj: Any, name: str) -> ast.AST | None:
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        try:  # e.g. a multi-line string at column 0 inside an indented def
            tree = ast.parse("if 1:\n" + source)
        except SyntaxError:
            return None
    if name == "<lambda>":
        lambdas = [node for node in ast.walk(tree) if isinstance(node, ast.Lambda)]
        # Several lambdas on the source line(s): all count (over-sensitive, never stale).
        body: list[ast.stmt] = [ast.Expr(node) for node in lambdas]
        return ast.Module(body=body, type_ignores=[]) if lambdas else None
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return next((n for n in ast.walk(tree) if isinstance(n, defs) and n.name == name), None)


def _ast_local(node: ast.AST) -> _Local:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.decorator_list = []  # @component and friends do not change what the code does
    for sub in ast.walk(node):
        defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        if isinstance(sub, defs) and _has_docstring(sub.body):
            sub.body = sub.body[1:] or [ast.Pass()]
    names = frozenset(
        sub.id
        for sub in ast.walk(node)
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
    )
    chains = frozenset(chain for sub in ast.walk(node) if (chain := _chain(sub)))
    hasher = domain_hasher(CODE)
    update_str(hasher, ast.dump(node, annotate_fields=True, include_attributes=False))
    return _Local(hasher.hexdigest(), names, chains)


def _has_docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _chain(node: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not parts or not isinstance(node, ast.Name):
        return None
    return (node.id, *reversed(parts))


def _bytecode_local(code: types.CodeType, fn: Any) -> _Local:
    warnings.warn(
        f"headrace: the source of {fn.__module__}.{fn.__qualname__} is unavailable; its code "
        "fingerprint falls back to bytecode, which also changes with docstrings and with "
        "the Python version. Define it in a .py file to fingerprint its source.",
        stacklevel=4,
    )
    hasher = domain_hasher(CODE)
    names: set[str] = set()
    _feed_code(hasher, code, names)
    return _Local(hasher.hexdigest(), frozenset(names), frozenset())


def _feed_code(hasher: Any, code: types.CodeType, names: set[str]) -> None:
    hasher.update(code.co_code)
    update_str(hasher, repr((code.co_names, code.co_varnames, code.co_freevars)))
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(hasher, const, names)
        elif isinstance(const, frozenset):
            update_str(hasher, repr(sorted(map(repr, const))))
        else:
            update_str(hasher, _value_or_type(const))
