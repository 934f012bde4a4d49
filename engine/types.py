"""Annotation → artifact kind, type compatibility between steps, and parameter coercion."""

from __future__ import annotations

import enum
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

PARAMETER = "parameter"  # int/float/str/bool, Literal, Enum, Optional of them: hashed by value
TABLE = "table"  # pandas.DataFrame / pyarrow.Table: stored as Parquet
PATH = "path"  # pathlib.Path: a file or a folder, hashed by content
PATHS = "paths"  # list[Path]
OBJECT = "object"  # anything else: stored with joblib

KINDS = (PARAMETER, TABLE, PATH, PATHS, OBJECT)
_PRIMITIVES = (bool, int, float, str)
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


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


def kind_of(annotation: Any) -> str:
    """Classify an annotation as one of :data:`KINDS`.

    Args:
        annotation: a resolved type annotation.
    """
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
    if get_origin(annotation) in (list, tuple) and _is_path_list(annotation):
        return PATHS
    return OBJECT


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

    Args:
        src: the producer's annotation (a step output or a pipeline parameter).
        dst: the consumer input's annotation.
        from_parameter: the producer is a pipeline parameter, whose values are coerced, so a
            ``str`` parameter may feed a ``Path`` input.
    """
    src, dst = strip_annotated(src), strip_annotated(dst)
    if dst is Any or dst is object or src is Any or src == dst:
        return True
    src = optional_inner(src) or src
    dst = optional_inner(dst) or dst
    if src == dst:
        return True
    ks, kd = kind_of(src), kind_of(dst)
    if kd == PARAMETER and ks == PARAMETER:
        return _param_compatible(src, dst)
    if from_parameter and ks == PARAMETER and kd in (PATH, PATHS):
        return _base_type(src) is str
    if ks != kd:
        return False
    if kd == OBJECT:
        so, do = get_origin(src) or src, get_origin(dst) or dst
        if isinstance(so, type) and isinstance(do, type):
            return issubclass(so, do)
    return True


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
