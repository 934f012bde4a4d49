"""The source of a user module as it was loaded: its top-level bindings and whether it drifted.

A cache key must describe the code that actually ran. A module's source is read once per
loaded module (a reload is seen) and checked against what the interpreter loaded: every
function defined in it must compile to the loaded bytecode, and every immutable literal
constant must still hold its value. When the file was edited after the import (a notebook
kernel, a long-lived process), the module has *drifted*: its source is not trusted, and
fingerprints fall back to the loaded code objects and values.

Module-level data is fingerprinted by the statements that bind it (``SEED = 42``,
``RNG = random.Random(SEED)``, ``OPS = {"double": double}``), never by its current value,
so a memo dict that fills at run time changes nothing, and an edit to the source always does.
"""

from __future__ import annotations
import __future__

import ast
import inspect
import linecache
import sys
import types
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import loads

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None))


@dataclass
class ModuleSource:
    """One loaded module's source, split into what each top-level name is bound by.

    Attributes:
        bindings: name → the top-level statements that assign it or change it in place
            (``X.append(1)``, ``X.k = 1``), in source order.
        imports: name → (module, attribute or None, level) for ``import``/``from`` bindings.
        effects: top-level statements before the last definition that bind nothing
            (``random.seed(SEED)``, ...).
        import_statements: the top-level imports (a def compiles differently beside them).
        drifted: the file no longer matches what was loaded (edited after the import).
    """

    bindings: dict[str, list[ast.stmt]] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    effects: list[ast.stmt] = field(default_factory=list)
    import_statements: list[ast.stmt] = field(default_factory=list)
    drifted: bool = False


_SOURCES: dict[str, tuple[Generation, ModuleSource | None]] = {}
_CHECKED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def module_source(module: types.ModuleType) -> ModuleSource | None:
    """The parsed source of ``module`` (None when it has none, e.g. ``python -c`` code).

    Cached per module name and the identity of the module's namespace contents, so a
    ``importlib.reload`` (new function objects) is parsed and checked again.
    """
    name = module.__name__
    token = _generation(module)
    cached = _SOURCES.get(name)
    if cached is not None and cached[0] == token:
        return cached[1]
    parsed = _parse_module(module)
    if parsed is not None and _edited_since_load(module, token, cached):
        parsed.drifted = True  # the file changed on disk but the module was not reloaded
    _SOURCES[name] = (token, parsed)
    return parsed


def drifted_modules() -> list[types.ModuleType]:
    """The modules fingerprinted here whose file was edited after their import: their code
    runs elsewhere only when shipped by value (another process importing them would run
    the edit, not the code the cache key describes)."""
    found = []
    for name in list(_SOURCES):
        module = sys.modules.get(name)
        if module is not None and (src := module_source(module)) is not None and src.drifted:
            found.append(module)
    return found


def function_drifted(
    fn: types.FunctionType, node: ast.AST, imports: list[ast.stmt] | None = None
) -> bool:
    """Whether ``node`` (the function's source as on disk now) compiles to other bytecode than
    the loaded ``fn`` (the file was edited after the import).

    Args:
        fn: the loaded function.
        node: its ``def`` as parsed from the file now.
        imports: the module's top-level imports: CPython compiles ``mod.f()`` differently
            when ``mod`` was bound by an import in the same file.
    """
    cached = _CHECKED.get(fn)
    if cached is None:
        module = sys.modules.get(fn.__module__)
        if module is not None and _rewritten(module):
            return False  # pytest rewrote its asserts: the loaded code differs by design
        if imports is None:
            src = module_source(module) if module is not None else None
            imports = src.import_statements if src is not None else []
        cached = _CHECKED[fn] = not _compiles_to(node, fn, imports)
    return cached


def _rewritten(module: types.ModuleType) -> bool:
    """Whether an import hook compiled the module from other code than its source (pytest)."""
    loader = getattr(module, "__loader__", None)
    return type(loader).__module__.startswith("_pytest.")


Generation = tuple[int, int, loads.Stat | None]
"""(the module object, its import's spec object, its file's (mtime_ns, size, inode))."""


def _generation(module: types.ModuleType) -> Generation:
    """What identifies one loaded version of a module: a reload makes a new spec object."""
    return (id(module), id(getattr(module, "__spec__", None)), _file_stat(module))


def _file_stat(module: types.ModuleType) -> loads.Stat | None:
    return loads.file_stat(getattr(module, "__file__", None))


def _edited_since_load(
    module: types.ModuleType, now: Generation, cached: tuple[Generation, Any] | None
) -> bool:
    """The same loaded module (no reload), but its file holds other bytes than it did when
    it was loaded (or, when headrace did not see it load, changed since it was read here)."""
    edited = loads.edited_since_load(module, now[2])
    if edited is not None:
        return edited
    return cached is not None and cached[0][:2] == now[:2] and cached[0][2] != now[2]


def _parse_module(module: types.ModuleType) -> ModuleSource | None:
    try:
        filename = inspect.getsourcefile(module)
    except TypeError:
        return None
    if filename is None:
        return None
    linecache.checkcache(filename)  # the file as it is now; the drift checks judge it
    lines = linecache.getlines(filename, vars(module))
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return None
    out = ModuleSource()
    defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    last_def = max((i for i, st in enumerate(tree.body) if isinstance(st, defs)), default=-1)
    for i, stmt in enumerate(tree.body):
        _classify(stmt, out, setup=i < last_def)
    out.drifted = _drifted(module, tree, out)
    return out


def _classify(stmt: ast.stmt, out: ModuleSource, setup: bool = True) -> None:
    """File ``stmt`` under imports, bindings or effects.

    Only statements before the module's last ``def``/``class`` count as effects: they set up
    the state the definitions run in (``random.seed(SEED)``). Later ones use the pipeline (a
    script's ``run = p.submit(); print(run...)``), and a script reaches them while it runs,
    so counting them would change a key between two submits of one process.
    """
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        out.import_statements.append(stmt)
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            bound = alias.asname or alias.name.split(".")[0]
            target = alias.name if alias.asname else alias.name.split(".")[0]
            out.imports[bound] = (target, None, 0)
        return
    if isinstance(stmt, ast.ImportFrom):
        for alias in stmt.names:
            out.imports[alias.asname or alias.name] = (stmt.module or "", alias.name, stmt.level)
        return
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return  # fingerprinted from the objects themselves
    if _is_main_block(stmt):
        return  # runs only as a script, after the definitions: not the steps' code
    names = bound_names(stmt)
    if not names:
        for root in mutated_names(stmt):  # FEATURES.append("b"): part of how FEATURES is built
            out.bindings.setdefault(root, []).append(stmt)
        if setup and not _is_docstring(stmt):
            out.effects.append(stmt)
        return
    for name in names:
        out.bindings.setdefault(name, []).append(stmt)


def mutated_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement that binds none changes in place, wherever it stands:
    ``X.append(1)``, ``X.conf.update(a=1)``, ``np.random.seed(1)``, ``setattr(X, "k", 1)``,
    ``del X[k]`` (attribute and item assignments bind their root: :func:`bound_names`)."""
    roots: set[str | None] = set()
    if isinstance(stmt, ast.Expr):
        call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            roots.add(_root_name(call.func))
        elif (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id in ("setattr", "delattr")
            and call.args
        ):
            roots.add(_root_name(call.args[0]))
    elif isinstance(stmt, ast.Delete):
        roots.update(_root_name(t) for t in stmt.targets)
    return {r for r in roots if r is not None}


def _root_name(node: ast.AST) -> str | None:
    """``X`` of ``X.a[0].b`` or ``X.f().g``."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def bound_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement assigns (targets of assignments, loops, with, ...)."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(stmt, ast.If | ast.Try | ast.While | ast.For | ast.With):
        for sub in ast.iter_child_nodes(stmt):
            if isinstance(sub, ast.stmt):
                names |= bound_names(sub)
    return names


def _is_main_block(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":``."""
    test = stmt.test if isinstance(stmt, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _drifted(module: types.ModuleType, tree: ast.Module, src: ModuleSource) -> bool:
    """Whether the module's loaded code and data differ from ``tree``: a function that
    compiles to other code, or an immutable literal constant holding another value. (A
    literal container is left out: a memo filled at run time must not count as an edit.)"""
    namespace = vars(module)
    imports = src.import_statements
    name = module.__name__
    if any(_def_drifted(namespace, stmt, name, imports) for stmt in _last_defs(tree.body)):
        return True
    for stmt in _last_defs(tree.body):
        cls = namespace.get(stmt.name)
        if isinstance(stmt, ast.ClassDef) and isinstance(cls, type):
            members = vars(cls)
            if any(_def_drifted(members, m, name, imports) for m in _last_defs(stmt.body)):
                return True
    for name, stmts in src.bindings.items():
        if len(stmts) != 1 or not isinstance(stmts[0], ast.Assign | ast.AnnAssign):
            continue
        value_node = stmts[0].value
        if value_node is None or name not in namespace:
            continue
        try:
            literal = ast.literal_eval(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        current = namespace[name]
        if _immutable(literal) and _immutable(current) and not _same(literal, current):
            return True
    return False


def _last_defs(body: list[ast.stmt]) -> list[Any]:
    """The last ``def``/``class`` of each name (an earlier one was replaced at import)."""
    defs = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return list({s.name: s for s in body if isinstance(s, defs)}.values())


def _def_drifted(
    namespace: Mapping[str, Any], stmt: Any, module: str, imports: list[ast.stmt]
) -> bool:
    if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    obj = namespace.get(stmt.name)
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    fn = getattr(obj, "fn", obj)  # a Component wraps the function
    fn = inspect.unwrap(fn) if callable(fn) else fn
    if not isinstance(fn, types.FunctionType) or fn.__module__ != module:
        return False  # bound to something else at import (a decorator's product, ...)
    if fn.__code__.co_name != stmt.name or fn.__code__.co_freevars:
        return False  # a closure (or a method using super()) compiles differently alone
    return function_drifted(fn, stmt, imports)


def _immutable(value: Any) -> bool:
    if isinstance(value, _IMMUTABLE):
        return True
    return isinstance(value, tuple | frozenset) and all(_immutable(v) for v in value)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN == NaN here


def _compiles_to(node: ast.AST, fn: types.FunctionType, imports: list[ast.stmt]) -> bool:
    """Compile the def beside the module's imports; compare with the loaded code (no positions)."""
    flags = fn.__code__.co_flags & __future__.annotations.compiler_flag
    body: list[Any] = [*imports, _without_decorators(node)]
    module = ast.Module(body=body, type_ignores=[])
    try:
        code = compile(module, fn.__code__.co_filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    found = next((c for c in reversed(code.co_consts) if isinstance(c, types.CodeType)), None)
    return found is not None and _same_code(found, fn.__code__)


def _without_decorators(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        copy = ast.FunctionDef if isinstance(node, ast.FunctionDef) else ast.AsyncFunctionDef
        fields = {f: getattr(node, f) for f in node._fields}
        fields["decorator_list"] = []
        new = copy(**fields)
        return ast.copy_location(new, node)
    return node


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars) != (
        b.co_code,
        b.co_names,
        b.co_varnames,
        b.co_freevars,
        b.co_cellvars,
    ):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or (x != y and not (x != x and y != y)):
            return False
    return True
