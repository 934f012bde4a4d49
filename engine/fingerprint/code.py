"""Code fingerprints: normalized function source plus the helpers, libraries, constants it uses."""

from __future__ import annotations

import ast
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any

from .code_local import (
    Local,
    bytecode_local,
    class_local,
    function_local,
    import_named,
    local_imports,
    module_of,
    statements_local,
)
from .code_objects import (
    MISSING,
    bound_to_instance,
    closure,
    container_items,
    instance_state,
    is_code,
    kind_prefix,
    owner_of,
    primitive,
    qualname,
    unseen,
    user_wrapper,
    wrapped,
)
from .digest import (
    CODE,
    domain_hasher,
    fingerprint_or_type,
    update_str,
)
from .import_time import warn_if_import_time_value as _warn_if_import_time_value
from .modkind import distribution, module_kind
from .source import module_source as _module_source

__all__ = ["code_fingerprint", "code_ingredients"]


REGISTRY_MAX = 10_000
"""Items of a module-level container scanned for functions a decorator registered."""


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
        wrapper = user_wrapper(obj)
        if wrapper is None and callable(obj):  # a library's decorator: what it wraps
            obj = inspect.unwrap(obj)
        if isinstance(obj, types.MethodType):  # the object it is bound to counts too
            if not isinstance(obj.__self__, types.ModuleType):
                self.reference(obj.__self__, f"{label}.__self__")
            obj = obj.__func__
        if isinstance(obj, functools.partial):
            self.add(f"{label}.partial", fingerprint_or_type((obj.args, obj.keywords)))
            for i, arg in enumerate((*obj.args, *obj.keywords.values())):
                if is_code(arg):
                    self.reference(arg, f"{label}.partial[{i}]")
            self.reference(obj.func, label)
            return
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if wrapper is not None:  # a user's functools.wraps wrapper: its own code, then the inner
            local, cells, globals_ = (
                bytecode_local(obj.__code__, obj, None),  # inspect would show the inner's source
                closure(obj),
                obj.__globals__,
            )
            self.add(label, local.digest)
            self._resolve(local, label, cells, globals_)
            self._effects(globals_)
            self.reference(wrapper, f"{label}.__wrapped__")
            return
        if isinstance(obj, types.FunctionType):
            local, cells, globals_ = function_local(obj), closure(obj), obj.__globals__
        elif isinstance(obj, type):
            local, cells, module = class_local(obj), {}, inspect.getmodule(obj)
            globals_ = vars(module) if module is not None else {}
        elif callable(obj):
            self.visit(type(obj), label)
            return
        else:
            raise TypeError(f"code_fingerprint needs a function or class, not {obj!r}")
        self.add(label, local.digest)
        self._resolve(local, label, cells, globals_)
        self._effects(globals_)
        self._set_on_later(obj, globals_)

    def _set_on_later(self, obj: Any, namespace: dict[str, Any]) -> None:
        """Statements of its module that change a top-level function or class after its
        definition (``Cfg.k = 5``, ``helper.scale = 2``, ``setattr(Cfg, ...)``): by source."""
        name = getattr(obj, "__name__", None)
        module = module_of(namespace)
        if (
            isinstance(name, str)
            and getattr(obj, "__qualname__", None) == name
            and module is not None
            and vars(module).get(name) is obj
        ):
            self._changed_later(name, namespace)

    def _effects(self, namespace: dict[str, Any]) -> None:
        """Module-level statements that bind nothing (``random.seed(SEED)``), once per module."""
        name = namespace.get("__name__", "")
        module = module_of(namespace)
        if name in self.modules or module is None or module_kind(name) != "user":
            return
        self.modules.add(name)
        src = self.source_of(module)
        if src is not None and not src.drifted and src.effects:
            self.statements("effects", src.effects, namespace)

    def _resolve(
        self, local: Local, where: str, cells: dict[str, Any], globals_: dict[str, Any]
    ) -> None:
        imported = local_imports(local, globals_.get("__name__", ""))
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
            bound = imported.get(chain[0], (MISSING,))[0]
            root = cells.get(
                chain[0], bound if bound is not MISSING else globals_.get(chain[0], MISSING)
            )
            if isinstance(root, types.ModuleType):
                self._reference_chain(root, chain)

    def global_(self, name: str, namespace: dict[str, Any]) -> None:
        """Adds what the module-level name ``name`` of ``namespace`` contributes."""
        obj = namespace[name]
        module = module_of(namespace)
        built = isinstance(obj, functools.partial) or bound_to_instance(obj)
        if isinstance(obj, types.ModuleType):
            self.reference(obj, name)
            self._changed_later(name, namespace)
            return
        if (is_code(obj) and not built) or wrapped(obj):
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
            self._changed_later(name, namespace)  # from cfg import L; L.append(16): here too
            return
        self.statements(f"const:{name}", src.bindings[name], namespace)
        _warn_if_import_time_value(name, src.bindings[name], module.__name__)  # type: ignore[union-attr]
        self._code_inside(obj, name)

    def _changed_later(self, name: str, namespace: dict[str, Any]) -> None:
        """Statements of this module that change what it bound or imported as ``name``
        without binding it (``cfg.LAYERS = [64, 16]`` on a module it imported, ``L.append(16)``
        on an imported list, ``Cfg.k = 5`` on its own class), once: by their source, as the
        object's own source no longer tells its value."""
        module = module_of(namespace)
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
        if not any(is_code(v) or wrapped(v) for v in (obj.values() if type(obj) is dict else obj)):
            return
        for key, item in container_items(obj) or ():
            if is_code(item) or wrapped(item) is not None:
                self.reference(item, f"{label}[{key}]")

    def _body_import(self, name: str, found: tuple[Any, Any, str | None]) -> None:
        """A name an import inside the body binds; data of a user module by its source."""
        value, holder, attr = found
        data = not (is_code(value) or isinstance(value, types.ModuleType) or wrapped(value))
        if (
            data
            and attr is not None
            and isinstance(holder, types.ModuleType)
            and module_kind(holder.__name__) == "user"
            and vars(holder).get(attr, MISSING) is value
        ):
            self.global_(attr, vars(holder))
        else:
            self.reference(value, name)

    def _not_bound_yet(self, name: str, namespace: dict[str, Any]) -> None:
        """A global the module binds later (a script still running): by its source, as later."""
        module = module_of(namespace)
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
        local = statements_local(stmts)
        self.add(label, local.digest)
        self._resolve(local, label, {}, namespace)

    def _imported_value(
        self, name: str, origin: tuple[str, str | None, int], module: types.ModuleType, obj: Any
    ) -> None:
        """``from cfg import THRESHOLD``: THRESHOLD as ``cfg`` binds it (or its value)."""
        source = import_named(origin[0], origin[2], module.__name__)
        attr = origin[1]
        if attr is None or source is None or not self._is_user(source.__name__):
            self.reference(obj, name)
            return
        if vars(source).get(attr, MISSING) is obj:
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
            if is_code(obj) or isinstance(obj, types.ModuleType) or wrapped(obj) is not None:
                self.reference(obj, ".".join(chain[:depth]))
            else:  # data of a user module, such as h.OPS: by the source that binds it
                self.global_(attr, vars(module))

    def reference(self, obj: Any, label: str) -> None:
        """Adds what a referenced object contributes.

        Args:
            obj: The object a name resolved to.
            label: ``module.name`` where it was found (for constants).
        """
        if (inner := wrapped(obj)) is not None:  # functools.lru_cache/cache and friends
            self.reference(inner, label)
            return
        if isinstance(obj, types.ModuleType):
            if self._is_user(obj.__name__):  # a bare user module: its name (attrs via chains)
                self.add(f"module:{obj.__name__.rpartition('.')[2]}", "")
        elif isinstance(obj, functools.partial):  # partial(mul, k=2): its arguments, its func
            self.visit(obj, label)
        elif is_code(obj):
            owner = owner_of(obj)
            if self._is_user(owner) and not isinstance(obj, types.BuiltinFunctionType):
                self.visit(obj, f"{kind_prefix(obj)}:{qualname(obj)}")
        elif (value := primitive(obj)) is not None:
            self.add(f"const:{label}", value)
        elif (items := container_items(obj)) is not None:  # OPS = {"double": double}
            if id(obj) in self.seen:
                return
            self.seen.add(id(obj))
            self.add(f"const:{label}", type(obj).__qualname__)
            for key, item in items:
                self.reference(item, f"{label}[{key}]")
        elif self._is_user(owner := type(obj).__module__):  # an instance of a user class
            self.visit(type(obj), f"class:{type(obj).__qualname__}")
            state = instance_state(obj)  # None: it cannot be pickled (warned)
            self.add(f"const:{label}", state if state is not None else unseen(obj, label))
        else:
            self.add(f"const:{label}", unseen(obj, label))

    def _is_user(self, owner: str) -> bool:
        """Records a library's version; True only when ``owner`` is the user's own code."""
        kind = module_kind(owner) if owner else "user"
        if kind == "library":
            name, version = distribution(owner)
            self.add(f"lib:{name}", version)
        return kind == "user"
