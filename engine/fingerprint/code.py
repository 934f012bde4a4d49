"""Code fingerprints: normalized function source plus the helpers, libraries, constants it uses."""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import pickle
import sys
import textwrap
import types
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .bytecode import code_digest, code_refs
from .digest import (
    CODE,
    UnhashableInput,
    domain_hasher,
    fingerprint_or_type,
    fingerprint_value,
    update_str,
)
from .import_time import attribute_chain as _chain
from .import_time import warn_if_import_time_value as _warn_if_import_time_value
from .modkind import distribution, module_kind
from .source import function_drifted
from .source import module_source as _module_source

__all__ = ["code_fingerprint", "code_ingredients"]


@dataclass(frozen=True)
class _Local:
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


REGISTRY_MAX = 10_000
"""Items of a module-level container scanned for functions a decorator registered."""

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
    references (globals, closure cells, ``module.attr`` chains, imports inside its body,
    functions inside containers), transitively; ``lib:`` entries are third-party
    distributions with their versions; ``const:`` entries are module-level data of any type,
    by the source of the statements that bind it (and, transitively, what those use), so
    ``RNG = random.Random(SEED)`` changes with ``SEED`` and a memo dict filling at run time
    changes nothing; ``effects`` are module-level statements that bind nothing
    (``random.seed(SEED)``); ``version`` is ``version``. The standard library adds nothing.
    Labels never contain module names, so the same file imported under another name
    fingerprints alike. A module whose file changed after it was imported (see
    :mod:`.source`) is fingerprinted from its loaded code and values instead.

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
        self.seen_names: set[tuple[str, str]] = set()
        self.modules: set[str] = set()
        self.sources: dict[str, Any] = {}

    def source_of(self, module: types.ModuleType) -> Any:
        """The module's parsed source, looked up once per fingerprint."""
        name = module.__name__
        if name not in self.sources:
            self.sources[name] = _module_source(module)
        return self.sources[name]

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
        wrapper = _user_wrapper(obj)
        if wrapper is None and callable(obj):  # a library's decorator: what it wraps
            obj = inspect.unwrap(obj)
        if isinstance(obj, types.MethodType):  # the object it is bound to counts too
            if not isinstance(obj.__self__, types.ModuleType):
                self.reference(obj.__self__, f"{label}.__self__")
            obj = obj.__func__
        if isinstance(obj, functools.partial):
            self.add(f"{label}.partial", fingerprint_or_type((obj.args, obj.keywords)))
            for i, arg in enumerate((*obj.args, *obj.keywords.values())):
                if _is_code(arg):
                    self.reference(arg, f"{label}.partial[{i}]")
            self.reference(obj.func, label)
            return
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if wrapper is not None:  # a user's functools.wraps wrapper: its own code, then the inner
            local, cells, globals_ = (
                _bytecode_local(obj.__code__, obj, None),  # inspect would show the inner's source
                _closure(obj),
                obj.__globals__,
            )
            self.add(label, local.digest)
            self._resolve(local, label, cells, globals_)
            self._effects(globals_)
            self.reference(wrapper, f"{label}.__wrapped__")
            return
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
        self._effects(globals_)

    def _effects(self, namespace: dict[str, Any]) -> None:
        """Module-level statements that bind nothing (``random.seed(SEED)``), once per module."""
        name = namespace.get("__name__", "")
        module = _module_of(namespace)
        if name in self.modules or module is None or module_kind(name) != "user":
            return
        self.modules.add(name)
        src = self.source_of(module)
        if src is not None and not src.drifted and src.effects:
            self.statements("effects", src.effects, namespace)

    def _resolve(
        self, local: _Local, where: str, cells: dict[str, Any], globals_: dict[str, Any]
    ) -> None:
        imported = _local_imports(local, globals_.get("__name__", ""))
        for name in sorted(local.names):
            if name in cells:
                self.reference(cells[name], f"{where}.<cell>.{name}")
            elif name in imported:
                self._body_import(name, imported[name])
            elif name in globals_:
                self.global_(name, globals_)
            else:
                self._not_bound_yet(name, globals_)
        for chain in sorted(local.chains):
            bound = imported.get(chain[0], (_MISSING,))[0]
            root = cells.get(
                chain[0], bound if bound is not _MISSING else globals_.get(chain[0], _MISSING)
            )
            if isinstance(root, types.ModuleType):
                self._reference_chain(root, chain)

    def global_(self, name: str, namespace: dict[str, Any]) -> None:
        """Adds what the module-level name ``name`` of ``namespace`` contributes."""
        obj = namespace[name]
        module = _module_of(namespace)
        built = isinstance(obj, functools.partial) or _bound_to_instance(obj)
        if isinstance(obj, types.ModuleType):
            self.reference(obj, name)
            self._sets_on_module(name, namespace)
            return
        if (_is_code(obj) and not built) or _wrapped(obj):
            self.reference(obj, name)
            return
        user = module is not None and self._is_user(module.__name__)
        src = self.source_of(module) if user else None  # type: ignore[arg-type]
        if src is None or src.drifted or (name not in src.bindings and name not in src.imports):
            self.reference(obj, name)  # no trustworthy source: the loaded value
            return
        key = (module.__name__, name)  # type: ignore[union-attr]
        if key in self.seen_names:
            return
        self.seen_names.add(key)
        if name in src.imports:
            self._imported_value(name, src.imports[name], module, obj)  # type: ignore[arg-type]
            return
        self.statements(f"const:{name}", src.bindings[name], namespace)
        _warn_if_import_time_value(name, src.bindings[name], module.__name__)  # type: ignore[union-attr]
        self._code_inside(obj, name)

    def _sets_on_module(self, name: str, namespace: dict[str, Any]) -> None:
        """Statements of this module that set data on the module it imported as ``name``
        (``cfg.LAYERS = [64, 16]`` in the pipeline file): by their source, as the imported
        module's own source no longer tells the value."""
        module = _module_of(namespace)
        if module is None or not self._is_user(module.__name__):
            return
        src = self.source_of(module)
        if src is None or src.drifted or name not in src.bindings:
            return
        key = (module.__name__, f"{name}.*")
        if key not in self.seen_names:
            self.seen_names.add(key)
            self.statements(f"const:{name}.*", src.bindings[name], namespace)

    def _code_inside(self, obj: Any, label: str) -> None:
        """The functions and classes a container holds now (a registry ``REG = {}`` that a
        decorator fills at import): by their code, as its source cannot tell them. Data
        items are left to the source, so a memo filling at run time changes nothing."""
        if type(obj) not in (list, tuple, dict, set, frozenset) or len(obj) > REGISTRY_MAX:
            return  # not a registry: a large table of data is not scanned for functions
        if not any(
            _is_code(v) or _wrapped(v) for v in (obj.values() if type(obj) is dict else obj)
        ):
            return
        for key, item in _container_items(obj) or ():
            if _is_code(item) or _wrapped(item) is not None:
                self.reference(item, f"{label}[{key}]")

    def _body_import(self, name: str, found: tuple[Any, Any, str | None]) -> None:
        """A name an import inside the body binds; data of a user module by its source."""
        value, holder, attr = found
        data = not (_is_code(value) or isinstance(value, types.ModuleType) or _wrapped(value))
        if (
            data
            and attr is not None
            and isinstance(holder, types.ModuleType)
            and module_kind(holder.__name__) == "user"
            and vars(holder).get(attr, _MISSING) is value
        ):
            self.global_(attr, vars(holder))
        else:
            self.reference(value, name)

    def _not_bound_yet(self, name: str, namespace: dict[str, Any]) -> None:
        """A global the module binds later (a script still running): by its source, as later."""
        module = _module_of(namespace)
        if module is None or module_kind(module.__name__) != "user":
            return
        src = self.source_of(module)
        if src is None or src.drifted or name not in src.bindings:
            return  # a builtin, or a name no statement binds
        key = (module.__name__, name)
        if key not in self.seen_names:
            self.seen_names.add(key)
            self.statements(f"const:{name}", src.bindings[name], namespace)

    def statements(self, label: str, stmts: list[ast.stmt], namespace: dict[str, Any]) -> None:
        """Adds module-level statements by their source, and what they use, transitively."""
        local = _statements_local(stmts)
        self.add(label, local.digest)
        self._resolve(local, label, {}, namespace)

    def _imported_value(
        self, name: str, origin: tuple[str, str | None, int], module: types.ModuleType, obj: Any
    ) -> None:
        """``from cfg import THRESHOLD``: THRESHOLD as ``cfg`` binds it (or its value)."""
        source = _import(origin[0], origin[2], module.__name__)
        attr = origin[1]
        if attr is None or source is None or not self._is_user(source.__name__):
            self.reference(obj, name)
            return
        if vars(source).get(attr, _MISSING) is obj:
            self.global_(attr, vars(source))
        else:  # the importer holds another object than cfg binds now (cfg was reloaded)
            self.reference(obj, name)

    def _reference_chain(self, obj: Any, chain: tuple[str, ...]) -> None:
        for depth, attr in enumerate(chain[1:], start=2):
            if not isinstance(obj, types.ModuleType) or module_kind(obj.__name__) != "user":
                return
            if not hasattr(obj, attr):
                return
            module, obj = obj, getattr(obj, attr)
            if _is_code(obj) or isinstance(obj, types.ModuleType) or _wrapped(obj) is not None:
                self.reference(obj, ".".join(chain[:depth]))
            else:  # data of a user module, such as h.OPS: by the source that binds it
                self.global_(attr, vars(module))

    def reference(self, obj: Any, label: str) -> None:
        """Adds what a referenced object contributes.

        Args:
            obj: The object a name resolved to.
            label: ``module.name`` where it was found (for constants).
        """
        if (inner := _wrapped(obj)) is not None:  # functools.lru_cache/cache and friends
            self.reference(inner, label)
            return
        if isinstance(obj, types.ModuleType):
            if self._is_user(obj.__name__):  # a bare user module: its name (attrs via chains)
                self.add(f"module:{obj.__name__.rpartition('.')[2]}", "")
        elif isinstance(obj, functools.partial):  # partial(mul, k=2): its arguments, its func
            self.visit(obj, label)
        elif _is_code(obj):
            owner = _owner(obj)
            if self._is_user(owner) and not isinstance(obj, types.BuiltinFunctionType):
                self.visit(obj, f"{_kind_prefix(obj)}:{_qualname(obj)}")
        elif (value := _primitive(obj)) is not None:
            self.add(f"const:{label}", value)
        elif (items := _container_items(obj)) is not None:  # OPS = {"double": double}
            if id(obj) in self.seen:
                return
            self.seen.add(id(obj))
            self.add(f"const:{label}", type(obj).__qualname__)
            for key, item in items:
                self.reference(item, f"{label}[{key}]")
        elif self._is_user(owner := type(obj).__module__):  # an instance of a user class
            self.visit(type(obj), f"class:{type(obj).__qualname__}")
            if (state := _instance_state(obj)) is not None:
                self.add(f"const:{label}", state)
        else:
            self.add(f"const:{label}", _unseen(obj, label))

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


def _container_items(obj: Any) -> list[tuple[str, Any]] | None:
    """A plain container's items as (key text, item), each fingerprinted on its own: a dict or
    list of helpers is keyed by their code, which its pickle (by name) leaves out."""
    if type(obj) in (list, tuple):
        return list(zip(map(str, range(len(obj))), obj, strict=True))
    if type(obj) is dict:
        return sorted(((_item_key(k), v) for k, v in obj.items()), key=lambda kv: kv[0])
    if type(obj) in (set, frozenset):
        return sorted(((_item_key(v), v) for v in obj), key=lambda kv: kv[0])
    return None


def _item_key(obj: Any) -> str:
    if _is_code(obj):
        return f"{_owner(obj)}.{_qualname(obj)}"
    value = _primitive(obj)
    return repr(obj) if value is None else value


def _instance_state(obj: Any) -> str | None:
    """A user-class instance whose attributes are all primitive (a config object) by value."""
    try:
        return fingerprint_value(vars(obj))
    except TypeError:
        return None


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
        if node is None:
            cached = _bytecode_local(fn.__code__, fn, _NO_SOURCE)
        elif _drifted(fn, node):
            cached = _bytecode_local(fn.__code__, fn, _DRIFTED)
        else:
            cached = _ast_local(node)
        _LOCAL[fn] = cached
    return cached


def _drifted(fn: types.FunctionType, node: ast.AST) -> bool:
    """Whether the source on disk is not the code that was loaded (edited after the import)."""
    if _replaced(fn.__globals__):
        return True
    module = sys.modules.get(fn.__module__)
    src = _module_source(module) if module is not None else None
    if src is not None and src.drifted:
        return True
    top_level = fn.__qualname__ == fn.__name__ and not fn.__code__.co_freevars
    return top_level and fn.__name__ != "<lambda>" and function_drifted(fn, node)


def _replaced(namespace: Mapping[str, Any]) -> bool:
    """Whether another module object is imported under the name of the file module whose
    namespace this is (an older import, still held): the file's source may not be its code."""
    module = sys.modules.get(namespace.get("__name__", ""))
    return module is not None and "__file__" in namespace and vars(module) is not namespace


def _module_of(namespace: Mapping[str, Any]) -> types.ModuleType | None:
    """The module whose namespace this is, as imported now (None for an older import)."""
    return None if _replaced(namespace) else sys.modules.get(namespace.get("__name__", ""))


def _class_local(cls: type) -> _Local:
    cached = _LOCAL.get(cls)
    if cached is None:
        module = sys.modules.get(cls.__module__)
        src = _module_source(module) if module is not None else None
        methods = [m for m in vars(cls).values() if inspect.isfunction(m)]
        replaced = any(_replaced(m.__globals__) for m in methods)
        node = None if replaced or (src is not None and src.drifted) else _parse(cls, cls.__name__)
        if node is None:
            members = [_function_local(m) for m in methods]
            members += [_function_local(m.__func__) for m in vars(cls).values() if _wraps_fn(m)]
            hasher = domain_hasher(CODE)
            update_str(hasher, cls.__qualname__)
            for member in sorted(members, key=lambda local: local.digest):
                update_str(hasher, member.digest)
            names = frozenset().union(*(m.names for m in members))
            chains = frozenset().union(*(m.chains for m in members))
            imports = tuple(i for m in members for i in m.imports)
            cached = _Local(hasher.hexdigest(), names, chains, imports)
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
    return _Local(hasher.hexdigest(), names, chains, _body_imports(node))


def _body_imports(node: ast.AST) -> tuple[tuple[str, str, str | None, int], ...]:
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


def _statements_local(stmts: list[ast.stmt]) -> _Local:
    """Module-level statements as one ingredient: their AST, and the names they use."""
    module = ast.Module(body=list(stmts), type_ignores=[])
    names = frozenset(
        sub.id
        for sub in ast.walk(module)
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)
    )
    chains = frozenset(chain for sub in ast.walk(module) if (chain := _chain(sub)))
    hasher = domain_hasher(CODE)
    for stmt in stmts:
        update_str(hasher, ast.dump(stmt, annotate_fields=True, include_attributes=False))
    return _Local(hasher.hexdigest(), names, chains)


def _wrapped(obj: Any) -> Any:
    """What a non-function callable wrapper (``functools.lru_cache``, ``cache``) wraps."""
    if isinstance(obj, types.FunctionType | type | types.ModuleType):
        return None
    inner = getattr(obj, "__wrapped__", None)
    return inner if callable(inner) else None


def _user_wrapper(obj: Any) -> Any:
    """What a wrapper function defined in user code (``functools.wraps``) wraps, else None.

    Its own code counts (the decorator's body and arguments change results); a library's
    decorator is looked through instead, to the user's function it wraps.
    """
    if not isinstance(obj, types.FunctionType):
        return None
    inner = getattr(obj, "__wrapped__", None)
    if inner is None or not callable(inner):
        return None
    return inner if module_kind(obj.__globals__.get("__name__", "")) == "user" else None


def _bound_to_instance(obj: Any) -> bool:
    """A method bound to an instance (``Scaler(2).apply``): the instance is data."""
    return isinstance(obj, types.MethodType) and not isinstance(
        obj.__self__, type | types.ModuleType
    )


def _wraps_fn(member: Any) -> bool:
    return isinstance(member, staticmethod | classmethod) and inspect.isfunction(member.__func__)


def _import(name: str, level: int, importer: str) -> types.ModuleType | None:
    """The module ``name`` as ``importer`` would import it (relative ``level``), or None."""
    try:
        if level:
            package = getattr(sys.modules.get(importer), "__package__", None) or ""
            name = importlib.util.resolve_name("." * level + name, package)
        return sys.modules.get(name) or importlib.import_module(name)
    except Exception:  # the step will meet the same error when it runs
        return None


def _local_imports(local: _Local, importer: str) -> dict[str, tuple[Any, Any, str | None]]:
    """Bound name → (object, the module it was taken from, the attribute) for the imports
    inside a function's body."""
    out: dict[str, tuple[Any, Any, str | None]] = {}
    for bound, module, attr, level in local.imports:
        if attr is None:  # import a.b (binds a) or import a.b as c (binds a.b)
            target = _import(module, level, importer)
            if target is not None and bound == module.split(".")[0]:
                target = sys.modules.get(module.split(".")[0], target)
            if target is not None:
                out[bound] = (target, None, None)
            continue
        source = _import(module, level, importer)
        if source is None:
            continue
        value = getattr(source, attr, _MISSING)
        if value is _MISSING:  # a submodule not imported yet
            value = _import(f"{module}.{attr}" if module else attr, level, importer)
        if value is not None and value is not _MISSING:
            out[bound] = (value, source, attr)
    return out


def _unseen(obj: Any, label: str) -> str:
    """A value without source to fingerprint (a REPL, a closure cell): by pickle, or warn."""
    try:
        data = pickle.dumps(obj, protocol=5)
    except Exception:
        warnings.warn(
            f"headrace: {label} ({type(obj).__qualname__}) cannot be fingerprinted; changes to "
            "it will not re-run the steps that use it. Define it in a .py module, or pass it "
            "as a pipeline parameter.",
            stacklevel=5,
        )
        return f"unfingerprintable {type(obj).__module__}.{type(obj).__qualname__}"
    hasher = domain_hasher(CODE)
    hasher.update(data)
    return hasher.hexdigest()


def _has_docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


_NO_SOURCE = (
    "the source of {name} is unavailable; its code fingerprint falls back to bytecode, which "
    "also changes with docstrings and with the Python version. Define it in a .py file to "
    "fingerprint its source."
)
_DRIFTED = (
    "the file defining {name} changed after it was imported, so the code that runs is not "
    "the code on disk; headrace fingerprints the loaded code (its bytecode). Restart the "
    "process (or reload the module) to run the edited code."
)


def _bytecode_local(code: types.CodeType, fn: Any, why: str | None) -> _Local:
    """A function by its loaded bytecode, with the global and free names it loads; ``why``
    (a template naming ``{name}``) is warned, when given."""
    if why is not None:
        warnings.warn(
            f"headrace: {why.format(name=f'{fn.__module__}.{fn.__qualname__}')}", stacklevel=4
        )
    names, chains, imports = code_refs(code)
    free = frozenset(code.co_freevars)  # closure cells: a decorator's arguments, inner functions
    return _Local(code_digest(code), frozenset(names) | free, chains, imports)
