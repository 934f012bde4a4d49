"""Annotation → artifact kind, type compatibility between steps, parameter coercion, output checks."""

from __future__ import annotations

import collections.abc
import enum
import os
import reprlib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

ArtifactKind = Literal["parameter", "table", "path", "paths", "object"]
"""What a value is, as its annotation says: decides how it is hashed, stored and loaded."""

PARAMETER: ArtifactKind = "parameter"  # int/float/str/bool, Literal, Enum, Optional of them
TABLE: ArtifactKind = "table"  # pandas.DataFrame / pyarrow.Table: stored as Parquet
PATH: ArtifactKind = "path"  # pathlib.Path: a file or a folder, hashed by content
PATHS: ArtifactKind = "paths"  # list[Path]
OBJECT: ArtifactKind = "object"  # anything else: stored with joblib

KINDS: tuple[ArtifactKind, ...] = (PARAMETER, TABLE, PATH, PATHS, OBJECT)
_PRIMITIVES = (bool, int, float, str)
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def _is_primitive(annotation: Any) -> bool:
    """``bool``, ``int``, ``float`` or ``str`` itself, told without typing's introspection
    (most ports are one of these: the hot path of every step)."""
    return type(annotation) is type and annotation in _PRIMITIVES


def strip_annotated(annotation: Any) -> Any:
    """Return the annotation without an outer ``Annotated[...]`` wrapper."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def optional_inner(annotation: Any) -> Any | None:
    """Return T for ``Optional[T]`` / ``T | None``, else None."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            return args[0]
    return None


def table_flavor(annotation: Any) -> str | None:
    """Return "pandas" or "arrow" when the annotation is a table type, else None."""
    annotation = strip_annotated(annotation)
    mod = getattr(annotation, "__module__", "") or ""
    name = getattr(annotation, "__name__", "")
    if name == "DataFrame" and mod.startswith("pandas"):
        return "pandas"
    if name == "Table" and mod.startswith("pyarrow"):
        return "arrow"
    return None


def kind_of(annotation: Any) -> ArtifactKind:
    """Classify an annotation as one of :data:`KINDS`.

    Args:
        annotation: a resolved type annotation.
    """
    if _is_primitive(annotation):
        return PARAMETER
    annotation = strip_annotated(annotation)
    inner = optional_inner(annotation)
    if inner is not None:
        return kind_of(inner)
    if annotation in _PRIMITIVES:
        return PARAMETER
    if get_origin(annotation) is Literal:
        return PARAMETER
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return PARAMETER
    if table_flavor(annotation):
        return TABLE
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return PATH
    if get_origin(annotation) in _PATH_LISTS and _is_path_list(annotation):
        return PATHS  # list[Path], tuple[Path, ...], Sequence[Path], Iterable[Path], ...
    return OBJECT


_PATH_LISTS = (
    list,
    tuple,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Collection,
    collections.abc.Iterable,
)


def _is_path_list(annotation: Any) -> bool:
    args = [a for a in get_args(annotation) if a is not Ellipsis]
    return bool(args) and all(
        isinstance(a, type) and issubclass(a, Path) for a in map(strip_annotated, args)
    )


def type_name(annotation: Any) -> str:
    """A short readable name for an annotation (``float``, ``pandas.DataFrame``, ``list[Path]``)."""
    annotation = strip_annotated(annotation)
    if annotation is Any:
        return "Any"
    if isinstance(annotation, type) and not get_args(annotation):
        mod = annotation.__module__
        if mod in ("builtins", "pathlib"):
            return annotation.__name__
        return f"{mod.split('.')[0]}.{annotation.__name__}"
    return repr(annotation).replace("typing.", "").replace("pathlib.", "")


def is_compatible(src: Any, dst: Any, *, from_parameter: bool = False) -> bool:
    """Whether a value annotated ``src`` may feed an input annotated ``dst``.

    Generic containers compare their item types, covariantly since values are copied between
    steps: ``list[int]`` feeds ``Sequence[float]`` but not ``list[str]``. ``Any`` (or a TypeVar)
    fits everything and everything fits ``object``; a subclass fits its base class; an ``int``
    fits a ``float`` but a ``bool`` fits neither; either table flavor fits the other (they
    convert on load); a ``Union`` source fits when each member does, a ``Union`` input when one
    member does. ``Optional[T]`` feeds ``T``: a None reaching such an input is the consumer's
    to handle.

    Args:
        src: the producer's annotation (a step output or a pipeline parameter).
        dst: the consumer input's annotation.
        from_parameter: the producer is a pipeline parameter, whose values are coerced, so a
            ``str`` parameter may feed a ``Path`` input.
    """
    return mismatch(src, dst, from_parameter=from_parameter) is None


def mismatch(src: Any, dst: Any, *, from_parameter: bool = False) -> tuple[Any, Any] | None:
    """The innermost pair of annotations that keeps ``src`` from feeding ``dst``, or None.

    For ``dict[str, list[int]]`` into ``dict[str, list[str]]`` the pair is ``(int, str)``.

    Args:
        src: the producer's annotation.
        dst: the consumer input's annotation.
        from_parameter: see :func:`is_compatible`.
    """
    src, dst = strip_annotated(src), strip_annotated(dst)
    if _is_any(dst) or dst is object or _is_any(src) or src == dst:
        return None
    if _is_union(src):
        members = [m for m in get_args(src) if m is not type(None)]
        found = (mismatch(m, dst, from_parameter=from_parameter) for m in members)
        return next((pair for pair in found if pair is not None), None)
    if _is_union(dst):
        fits = any(mismatch(src, m, from_parameter=from_parameter) is None for m in get_args(dst))
        return None if fits else (src, dst)
    if src is type(None):
        return (src, dst)
    return _mismatch_single(src, dst, from_parameter)


def _is_any(annotation: Any) -> bool:
    return annotation is Any or isinstance(annotation, typing.TypeVar)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (typing.Union, types.UnionType)


def _mismatch_single(src: Any, dst: Any, from_parameter: bool) -> tuple[Any, Any] | None:
    ks, kd = kind_of(src), kind_of(dst)
    if kd == PARAMETER and ks == PARAMETER:
        return None if _param_compatible(src, dst) else (src, dst)
    if from_parameter and ks == PARAMETER and kd in (PATH, PATHS):
        return None if _base_type(src) is str else (src, dst)
    if ks == OBJECT and dst in _PRIMITIVES and isinstance(src, type):
        return None if issubclass(src, dst) else (src, dst)  # numpy.float64 is a float
    if kd == OBJECT or (ks == OBJECT and kd == PATHS):
        return _mismatch_generic(src, dst, from_parameter)
    if ks != kd:
        return (src, dst)
    return None  # tables convert on load; any Path fits a Path, any list of paths a list


def _mismatch_generic(src: Any, dst: Any, from_parameter: bool) -> tuple[Any, Any] | None:
    so = _base_type(src) if get_origin(src) is Literal else get_origin(src) or src
    do = get_origin(dst) or dst
    if not (isinstance(so, type) and isinstance(do, type)) or _is_protocol(do):
        return None  # a NewType, a Protocol, a special form: not checkable here
    if not issubclass(so, do):
        return (src, dst)
    if collections.abc.Callable in (so, do) or get_origin(src) is Literal:
        return None
    pairs = _arg_pairs(src, dst, issubclass(so, tuple), issubclass(do, tuple))
    if pairs is None:
        return (src, dst)
    for s, d in pairs:
        pair = mismatch(s, d, from_parameter=from_parameter)
        if pair is not None:
            return pair
    return None


def _arg_pairs(
    src: Any, dst: Any, src_tuple: bool, dst_tuple: bool
) -> list[tuple[Any, Any]] | None:
    """The item types to compare; None when two fixed-length tuples differ in length."""
    sargs = tuple(a for a in get_args(src) if a is not Ellipsis)
    dargs = tuple(a for a in get_args(dst) if a is not Ellipsis)
    if not sargs or not dargs:
        return []  # a bare ``list`` means ``list[Any]``
    if len(sargs) == len(dargs):
        return list(zip(sargs, dargs, strict=True))
    dst_repeats = not dst_tuple or Ellipsis in get_args(dst)
    if src_tuple and len(dargs) == 1 and dst_repeats:  # tuple[int, str] into Sequence[int]
        return [(s, dargs[0]) for s in sargs]
    if src_tuple and dst_tuple and Ellipsis in get_args(src):  # tuple[int, ...] into a fixed one
        return [(sargs[0], d) for d in dargs]
    return None if src_tuple and dst_tuple else []  # dict[K, V] into Iterable[K]: not compared


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _base_type(annotation: Any) -> Any:
    if get_origin(annotation) is Literal:
        values = get_args(annotation)
        kinds = {type(v) for v in values}
        return kinds.pop() if len(kinds) == 1 else object
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    return annotation


def _param_compatible(src: Any, dst: Any) -> bool:
    s, d = _base_type(src), _base_type(dst)
    if get_origin(dst) is Literal:
        return get_origin(src) is Literal and set(get_args(src)) <= set(get_args(dst))
    if s == d:
        return True
    return s is int and d is float


def coerce(value: Any, annotation: Any) -> Any:
    """Validate ``value`` against ``annotation`` and convert it (strings from the CLI included).

    Args:
        value: the given value.
        annotation: the declared type.

    Raises:
        ValueError: the value does not fit; the message says what was expected.
    """
    if _is_primitive(annotation):
        return _coerce_primitive(value, annotation)
    annotation = strip_annotated(annotation)
    inner = optional_inner(annotation)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return coerce(value, inner)
    if annotation is Any or annotation is object:
        return value
    if annotation in _PRIMITIVES:
        return _coerce_primitive(value, annotation)
    if get_origin(annotation) is Literal:
        return _coerce_literal(value, annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _coerce_enum(value, annotation)
    kind = kind_of(annotation)
    if kind == PATH:
        if isinstance(value, (str, Path)) and str(value):
            return Path(value) if "://" not in str(value) else str(value)
        raise ValueError(f"expected a path (str or pathlib.Path), got {value!r}")
    if kind == PATHS:
        items = _path_list(value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"expected a list of paths, got {value!r}")
        return [coerce(v.strip() if isinstance(v, str) else v, Path) for v in items]
    return _coerce_instance(value, annotation)


def _path_list(text: str) -> Any:
    """A JSON list (``'["a,b.csv", "c.csv"]'``, for names with commas) or comma-separated names."""
    if text.lstrip().startswith("["):
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a JSON list of paths, got {text!r} ({exc})") from exc
    return [t for t in text.split(",") if t.strip()]


def _coerce_primitive(value: Any, annotation: type) -> Any:
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"expected a bool (true/false), got {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"expected {annotation.__name__}, got the bool {value!r}")
    if annotation is str:
        if isinstance(value, (str, Path)):
            return str(value)
        raise ValueError(f"expected a str, got {type(value).__name__} {value!r}")
    if annotation is int and isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected an int, got the float {value!r}")
    if isinstance(value, (int, float)):
        return annotation(value)
    if isinstance(value, str):
        try:
            return annotation(value.strip())
        except ValueError:
            pass
    raise ValueError(
        f"expected {'an' if annotation is int else 'a'} {annotation.__name__}, got {value!r}"
    )


def _coerce_literal(value: Any, annotation: Any) -> Any:
    choices = get_args(annotation)
    for choice in choices:
        if value == choice and type(value) is type(choice):
            return choice
    for choice in choices:
        if isinstance(value, str) and str(choice) == value:
            return choice
    raise ValueError(f"expected one of {list(choices)!r}, got {value!r}")


def _coerce_enum(value: Any, annotation: type[enum.Enum]) -> Any:
    if isinstance(value, annotation):
        return value
    for member in annotation:
        if value == member.value or value == member.name or str(member.value) == str(value):
            return member
    raise ValueError(f"expected one of {[m.value for m in annotation]!r}, got {value!r}")


def _coerce_instance(value: Any, annotation: Any) -> Any:
    origin = get_origin(annotation) or annotation
    if isinstance(origin, type) and not isinstance(value, origin):
        raise ValueError(f"expected {type_name(annotation)}, got {type(value).__name__}")
    return value


def check_output(value: Any, annotation: Any) -> Any:
    """Check a value a step returned against its declared output type; return it as stored.

    Stricter than :func:`coerce`, which also parses text. An ``int`` is accepted for a ``float``
    (and becomes a float); numpy scalars count as the Python value they hold; as in
    :func:`coerce`, a ``bool`` is neither an ``int`` nor a ``float`` and a float is not an
    ``int``. A table is a ``pandas.DataFrame`` or a ``pyarrow.Table``, whichever is declared
    (they convert on load); a path is a ``str`` or ``os.PathLike`` (the caller checks that it
    exists); ``Optional[T]`` accepts None. Other classes are checked with ``isinstance`` (not
    Protocols, NewTypes or TypeVars); the items of a container are not inspected.

    Args:
        value: what the step returned for this output.
        annotation: the output's declared type.

    Raises:
        ValueError: the value does not fit; the message says what was expected and what came.
    """
    if _is_primitive(annotation):
        return _check_parameter(_python_scalar(value), annotation)
    annotation = strip_annotated(annotation)
    if _is_any(annotation) or annotation is object:
        return value
    if _is_union(annotation):
        return _check_union(value, annotation)
    kind = kind_of(annotation)
    if kind == PARAMETER:
        return _check_parameter(_python_scalar(value), annotation)
    if kind == PATH:
        return _check_path(value, "")
    if kind == PATHS:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list of pathlib.Path, got {describe(value)}")
        return [_check_path(v, f" at index {i}") for i, v in enumerate(value)]
    if kind == TABLE:
        if _is_table(value):
            return value
        raise ValueError(f"expected a pandas.DataFrame or pyarrow.Table, got {describe(value)}")
    origin = get_origin(annotation) or annotation
    if not isinstance(origin, type) or _is_protocol(origin) or isinstance(value, origin):
        return value
    raise ValueError(f"expected {type_name(annotation)}, got {describe(value)}")


def describe(value: Any) -> str:
    """A value's type and a short one-line repr for messages: ``str 'abc'``."""
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:  # a DataFrame or an array: its shape, not its repr
        return f"{type_name(type(value))} of shape {shape}"
    return f"{type_name(type(value))} {short_repr(value)}"


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters, on one line."""
    return " ".join(_SHORT.repr(value).split())  # a failing __repr__ gives <X instance at ...>


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def _check_union(value: Any, annotation: Any) -> Any:
    members = [m for m in get_args(annotation) if m is not type(None)]
    if value is None and len(members) < len(get_args(annotation)):
        return None
    if len(members) == 1:
        return check_output(value, members[0])
    for member in members:
        try:
            return check_output(value, member)
        except ValueError:
            continue
    raise ValueError(f"expected {type_name(annotation)}, got {describe(value)}")


def _python_scalar(value: Any) -> Any:
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()  # numpy.float64(1.5) -> 1.5, numpy.bool_(True) -> True
    return value


def _check_parameter(value: Any, annotation: Any) -> Any:
    if get_origin(annotation) is Literal:
        for choice in get_args(annotation):
            if type(value) is type(choice) and value == choice:
                return choice
        raise ValueError(f"expected one of {list(get_args(annotation))!r}, got {describe(value)}")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if isinstance(value, annotation):
            return value
        raise ValueError(f"expected a {type_name(annotation)} member, got {describe(value)}")
    allowed: tuple[type, ...] = (int, float) if annotation is float else (annotation,)
    fits = isinstance(value, allowed) and (annotation is bool or not isinstance(value, bool))
    if fits:
        return float(value) if annotation is float else value
    article = "an" if annotation is int else "a"
    raise ValueError(f"expected {article} {annotation.__name__}, got {describe(value)}")


def _check_path(value: Any, where: str) -> Path:
    if isinstance(value, (str, os.PathLike)) and os.fspath(value):
        return Path(value)
    raise ValueError(f"expected a pathlib.Path to a file or folder, got {describe(value)}{where}")


def _is_table(value: Any) -> bool:
    return any(table_flavor(cls) for cls in type(value).__mro__)
