"""What one function or class says by itself (its digest, the names it loads, its imports),
from its source when that is the code that was loaded, else from its bytecode."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
import textwrap
import types
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .bytecode import code_digest, code_refs
from .code_objects import MISSING
from .digest import (
    CODE,
    domain_hasher,
    update_str,
)
from .import_time import attribute_chain as _chain
from .source import function_drifted
from .source import module_source as _module_source


@dataclass(frozen=True)
class Local:
    """What one function or class says by itself: its digest and the names it uses.

    Attributes:
        digest: the normalized source (or, without trustworthy source, the bytecode).
        names: global or free names it loads.
        chains: ``a.b.c`` attribute chains it reads (``helpers.scale``).
        imports: imports inside its body: bound name → (module, attribute or None, level).
    """

    digest: str
    names: frozenset[str]
    chains: frozenset[tuple[str, ...]]
    imports: tuple[tuple[str, str, str | None, int], ...] = ()


# Per function/class object (identity, weak): the parse is the expensive part. A reloaded
# module makes new objects, so edited code is never served from here.
LOCAL: weakref.WeakKeyDictionary[Any, Local] = weakref.WeakKeyDictionary()


def function_local(fn: types.FunctionType) -> Local:
    """What ``fn`` says by itself (cached per function object)."""
    cached = LOCAL.get(fn)
    if cached is None:
        node = parse(fn, fn.__name__)
        if node is None:
            cached = bytecode_local(fn.__code__, fn, NO_SOURCE)
        elif drifted(fn, node):
            cached = bytecode_local(fn.__code__, fn, DRIFTED)
        else:
            cached = ast_local(node)
        LOCAL[fn] = cached
    return cached


def drifted(fn: types.FunctionType, node: ast.AST) -> bool:
    """Whether the source on disk is not the code that was loaded (edited after the import)."""
    if replaced(fn.__globals__):
        return True
    module = sys.modules.get(fn.__module__)
    src = _module_source(module) if module is not None else None
    if src is not None and src.drifted:
        return True
    top_level = fn.__qualname__ == fn.__name__ and not fn.__code__.co_freevars
    return top_level and fn.__name__ != "<lambda>" and function_drifted(fn, node)


def replaced(namespace: Mapping[str, Any]) -> bool:
    """Whether another module object is imported under the name of the file module whose
    namespace this is (an older import, still held): the file's source may not be its code."""
    module = sys.modules.get(namespace.get("__name__", ""))
    return module is not None and "__file__" in namespace and vars(module) is not namespace


def module_of(namespace: Mapping[str, Any]) -> types.ModuleType | None:
    """The module whose namespace this is, as imported now (None for an older import)."""
    return None if replaced(namespace) else sys.modules.get(namespace.get("__name__", ""))


def class_local(cls: type) -> Local:
    """What ``cls`` says by itself: its source, or its methods' when that is not the loaded
    code."""
    cached = LOCAL.get(cls)
    if cached is None:
        module = sys.modules.get(cls.__module__)
        src = _module_source(module) if module is not None else None
        methods = [m for m in vars(cls).values() if inspect.isfunction(m)]
        edited = any(replaced(m.__globals__) for m in methods)
        node = None if edited or (src is not None and src.drifted) else parse(cls, cls.__name__)
        if node is None:
            members = [function_local(m) for m in methods]
            members += [function_local(m.__func__) for m in vars(cls).values() if wraps_fn(m)]
            hasher = domain_hasher(CODE)
            update_str(hasher, cls.__qualname__)
            for member in sorted(members, key=lambda local: local.digest):
                update_str(hasher, member.digest)
            names = frozenset().union(*(m.names for m in members))
            chains = frozenset().union(*(m.chains for m in members))
            imports = tuple(i for m in members for i in m.imports)
            cached = Local(hasher.hexdigest(), names, chains, imports)
        else:
            cached = ast_local(node)
        LOCAL[cls] = cached
    return cached


def parse(obj: Any, name: str) -> ast.AST | None:
    """The AST of ``obj``'s definition named ``name`` (its lambdas for a lambda), or None."""
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


def ast_local(node: ast.AST) -> Local:
    """A definition's digest without decorators and docstrings, and the names it loads."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        node.decorator_list = []  # @component and friends do not change what the code does
    for sub in ast.walk(node):
        defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        if isinstance(sub, defs) and has_docstring(sub.body):
            sub.body = sub.body[1:] or [ast.Pass()]
    names, chains = _loads(node)
    hasher = domain_hasher(CODE)
    update_str(hasher, ast.dump(node, annotate_fields=True, include_attributes=False))
    return Local(hasher.hexdigest(), names, chains, body_imports(node))


def _loads(node: ast.AST) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    """The names ``node`` loads, and the ``a.b.c`` attribute chains it reads."""
    names = frozenset(
        sub.id
        for sub in ast.walk(node)
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
    )
    return names, frozenset(chain for sub in ast.walk(node) if (chain := _chain(sub)))


def body_imports(node: ast.AST) -> tuple[tuple[str, str, str | None, int], ...]:
    """``import h`` / ``from h import helper`` anywhere inside a function or class body."""
    found: list[tuple[str, str, str | None, int]] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            for alias in sub.names:
                found.append((alias.asname or alias.name.split(".")[0], alias.name, None, 0))
        elif isinstance(sub, ast.ImportFrom):
            for alias in sub.names:
                bound = alias.asname or alias.name
                found.append((bound, sub.module or "", alias.name, sub.level))
    return tuple(found)


def statements_local(stmts: list[ast.stmt]) -> Local:
    """Module-level statements as one ingredient: their AST, and the names they use."""
    module = ast.Module(body=list(stmts), type_ignores=[])
    names, chains = _loads(module)
    hasher = domain_hasher(CODE)
    for stmt in stmts:
        update_str(hasher, ast.dump(stmt, annotate_fields=True, include_attributes=False))
    return Local(hasher.hexdigest(), names, chains)


def wraps_fn(member: Any) -> bool:
    """Whether a class member is a staticmethod or classmethod of a plain function."""
    return isinstance(member, staticmethod | classmethod) and inspect.isfunction(member.__func__)


def import_named(name: str, level: int, importer: str) -> types.ModuleType | None:
    """The module ``name`` as ``importer`` would import it (relative ``level``), or None."""
    try:
        if level:
            package = getattr(sys.modules.get(importer), "__package__", None) or ""
            name = importlib.util.resolve_name("." * level + name, package)
        return sys.modules.get(name) or importlib.import_module(name)
    except Exception:  # the step will meet the same error when it runs
        return None


def local_imports(local: Local, importer: str) -> dict[str, tuple[Any, Any, str | None]]:
    """Bound name → (object, the module it was taken from, the attribute) for the imports
    inside a function's body."""
    out: dict[str, tuple[Any, Any, str | None]] = {}
    for bound, module, attr, level in local.imports:
        if attr is None:  # import a.b (binds a) or import a.b as c (binds a.b)
            target = import_named(module, level, importer)
            if target is not None and bound == module.split(".")[0]:
                target = sys.modules.get(module.split(".")[0], target)
            if target is not None:
                out[bound] = (target, None, None)
            continue
        source = import_named(module, level, importer)
        if source is None:
            continue
        value = getattr(source, attr, MISSING)
        if value is MISSING:  # a submodule not imported yet
            value = import_named(f"{module}.{attr}" if module else attr, level, importer)
        if value is not None and value is not MISSING:
            out[bound] = (value, source, attr)
    return out


def has_docstring(body: list[ast.stmt]) -> bool:
    """Whether a body starts with a docstring."""
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


NO_SOURCE = (
    "the source of {name} is unavailable; its code fingerprint falls back to bytecode, which "
    "also changes with docstrings and with the Python version. Define it in a .py file to "
    "fingerprint its source."
)


DRIFTED = (
    "the file defining {name} changed after it was imported, so the code that runs is not "
    "the code on disk; headrace fingerprints the loaded code (its bytecode). Restart the "
    "process (or reload the module) to run the edited code."
)


def bytecode_local(code: types.CodeType, fn: Any, why: str | None) -> Local:
    """A function by its loaded bytecode, with the global and free names it loads; ``why``
    (a template naming ``{name}``) is warned, when given."""
    if why is not None:
        warnings.warn(
            f"headrace: {why.format(name=f'{fn.__module__}.{fn.__qualname__}')}", stacklevel=4
        )
    names, chains, imports = code_refs(code)
    free = frozenset(code.co_freevars)  # closure cells: a decorator's arguments, inner functions
    return Local(code_digest(code), frozenset(names) | free, chains, imports)
