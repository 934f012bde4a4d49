"""How the code walker classifies and names the objects it meets (code, containers, values)."""

from __future__ import annotations

import functools
import pickle
import types
import warnings
from typing import Any

from .digest import (
    CODE,
    UnhashableInput,
    domain_hasher,
    fingerprint_value,
)
from .modkind import module_kind

MISSING = object()  # an attribute that is not there (None may be a value)


def owner_of(obj: Any) -> str:
    """The module that defines ``obj`` (or its type)."""
    owner = getattr(obj, "__module__", None)
    if not isinstance(owner, str):
        owner = type(obj).__module__
    return owner or ""


def is_code(obj: Any) -> bool:
    """Whether ``obj`` is code the walker fingerprints (a function, class, partial, method)."""
    code_types = (types.FunctionType, type, functools.partial, types.MethodType)
    return isinstance(obj, code_types + (types.BuiltinFunctionType,))


def kind_prefix(obj: Any) -> str:
    """How an ingredient label names ``obj``: "class" or "fn"."""
    return "class" if isinstance(obj, type) else "fn"


def qualname(obj: Any) -> str:
    """``obj``'s qualified name, as labels show it."""
    return str(getattr(obj, "__qualname__", getattr(obj, "__name__", type(obj).__name__)))


def primitive(obj: Any) -> str | None:
    """``obj`` fingerprinted by value, or None when it is not a plain value."""
    try:
        return fingerprint_value(obj)
    except UnhashableInput:
        return None


def container_items(obj: Any) -> list[tuple[str, Any]] | None:
    """A plain container's items as (key text, item), each fingerprinted on its own: a dict or
    list of helpers is keyed by their code, which its pickle (by name) leaves out."""
    if type(obj) in (list, tuple):
        return list(zip(map(str, range(len(obj))), obj, strict=True))
    if type(obj) is dict:
        return sorted(((item_key(k), v) for k, v in obj.items()), key=lambda kv: kv[0])
    if type(obj) in (set, frozenset):
        return sorted(((item_key(v), v) for v in obj), key=lambda kv: kv[0])
    return None


def item_key(obj: Any) -> str:
    """A container item's sort key: code by its name, values by fingerprint."""
    if is_code(obj):
        return f"{owner_of(obj)}.{qualname(obj)}"
    value = primitive(obj)
    return repr(obj) if value is None else value


def instance_state(obj: Any) -> str | None:
    """A user-class instance by value: its attributes when all are plain values (a config
    object), else its canonical pickle (``__slots__``, arrays, nested objects); None when it
    cannot be pickled."""
    try:
        return fingerprint_value(vars(obj))
    except TypeError:  # no __dict__ (__slots__), or a value fingerprint_value cannot take
        pass
    from .tables import fingerprint_object

    return fingerprint_object(obj)


def closure(fn: types.FunctionType) -> dict[str, Any]:
    """The values in ``fn``'s closure cells, by name (empty cells left out)."""
    cells: dict[str, Any] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            cells[name] = cell.cell_contents
        except ValueError:  # an empty cell (not yet assigned)
            continue
    return cells


def wrapped(obj: Any) -> Any:
    """What a non-function callable wrapper (``functools.lru_cache``, ``cache``) wraps."""
    if isinstance(obj, types.FunctionType | type | types.ModuleType):
        return None
    inner = getattr(obj, "__wrapped__", None)
    return inner if callable(inner) else None


def user_wrapper(obj: Any) -> Any:
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


def bound_to_instance(obj: Any) -> bool:
    """A method bound to an instance (``Scaler(2).apply``): the instance is data."""
    return isinstance(obj, types.MethodType) and not isinstance(
        obj.__self__, type | types.ModuleType
    )


def unseen(obj: Any, label: str) -> str:
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
