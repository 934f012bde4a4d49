"""``@component``: a typed, annotated Python function that can be a pipeline step."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

from ..errors import DefinitionError
from ..types import ArtifactKind, kind_of, strip_annotated
from ._active import current_builder

NO_DEFAULT: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class Port:
    """One typed input or output of a component.

    Attributes:
        name: the argument or output name.
        annotation: the resolved type annotation (without ``Annotated``).
        kind: the artifact kind (see :mod:`headrace.engine.types`).
        default: the default value, or ``NO_DEFAULT``.
    """

    name: str
    annotation: Any
    kind: ArtifactKind
    default: Any = NO_DEFAULT

    @property
    def required(self) -> bool:
        """Whether the port has no default."""
        return self.default is NO_DEFAULT


@dataclass(frozen=True, eq=False)
class Component:
    """A frozen component definition wrapping a plain function.

    Calling it outside a pipeline runs the function; inside a ``@pipeline`` body it adds a step.

    Attributes:
        fn: the user's function.
        name: the component name (defaults to the function name).
        version: a user-set version, part of the cache key.
        description: free text (defaults to the docstring's first line).
        allow_reuse: whether a step may reuse earlier outputs.
        deterministic: False means never reuse (the function's result varies run to run).
        retries: how many times a failed step is retried.
        timeout: seconds after which a running step fails, or None.
        inputs: the typed inputs.
        outputs: the typed outputs.
    """

    fn: Callable[..., Any]
    name: str
    version: str | None = None
    description: str = ""
    allow_reuse: bool = True
    deterministic: bool = True
    retries: int = 0
    timeout: float | None = None
    inputs: tuple[Port, ...] = field(default=())
    outputs: tuple[Port, ...] = field(default=())

    def __post_init__(self) -> None:
        # Look like the wrapped function to pickling-by-reference, inspect and hashing.
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            object.__setattr__(self, attr, getattr(self.fn, attr, None))
        object.__setattr__(self, "__wrapped__", self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add_step(self, args, kwargs)

    def input(self, name: str) -> Port | None:
        """Return the input port called ``name``, or None."""
        return next((p for p in self.inputs if p.name == name), None)

    def __repr__(self) -> str:
        return f"<Component {self.name} ({', '.join(p.name for p in self.inputs)})>"


def component(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str | int | None = None,
    description: str | None = None,
    allow_reuse: bool = True,
    deterministic: bool = True,
    retries: int = 0,
    timeout: float | None = None,
) -> Any:
    """Turn a fully annotated function into a :class:`Component`.

    Usable bare (``@component``) or with options (``@component(version="2")``).

    Args:
        fn: the function (when used bare).
        name: the component name; defaults to the function name.
        version: bump it to force re-execution although the code did not change.
        description: defaults to the first line of the docstring.
        allow_reuse: False makes every run execute the step.
        deterministic: False marks a function whose output varies; it is never reused.
        retries: extra attempts after a failure.
        timeout: seconds a single attempt may run.

    Raises:
        DefinitionError: listing every missing or unusable annotation and option.
    """

    def wrap(f: Callable[..., Any]) -> Component:
        problems = _check_options(f, retries, timeout)
        inputs, in_problems = _inputs(f)
        outputs, out_problems = _outputs(f)
        problems += in_problems + out_problems
        if problems:
            raise DefinitionError(problems, title=f"component {f.__name__!r} is not valid")
        doc = inspect.getdoc(f) or ""
        return Component(
            fn=f,
            name=name or f.__name__,
            version=None if version is None else str(version),
            description=description if description is not None else doc.split("\n")[0],
            allow_reuse=allow_reuse,
            deterministic=deterministic,
            retries=retries,
            timeout=timeout,
            inputs=inputs,
            outputs=outputs,
        )

    return wrap(fn) if fn is not None else wrap


def _check_options(f: Callable[..., Any], retries: int, timeout: float | None) -> list[str]:
    problems = []
    if not isinstance(retries, int) or retries < 0:
        problems.append(f"retries={retries!r}: give a whole number >= 0")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        problems.append(f"timeout={timeout!r}: give a number of seconds > 0, or None")
    return problems


def _hints(f: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(f, include_extras=True)
    except Exception as exc:  # unresolvable forward reference
        raise DefinitionError(
            f"component {f.__name__!r}: its annotations cannot be resolved ({exc}); "
            "import the types it names at module level"
        ) from exc


def _inputs(f: Callable[..., Any]) -> tuple[tuple[Port, ...], list[str]]:
    hints = _hints(f)
    ports, problems = [], []
    for p in inspect.signature(f).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            problems.append(
                f"argument {p.name!r}: *args/**kwargs cannot be typed inputs; "
                "declare each input as a named, annotated argument"
            )
            continue
        if p.name not in hints:
            problems.append(
                f"argument {p.name!r} has no type annotation; annotate it, "
                f"e.g. `{p.name}: float` (parameter), `{p.name}: pd.DataFrame` (table), "
                f"`{p.name}: Path` (file or folder)"
            )
            continue
        ann = strip_annotated(hints[p.name])
        ports.append(Port(p.name, ann, kind_of(ann), p.default))
    return tuple(ports), problems


def _outputs(f: Callable[..., Any]) -> tuple[tuple[Port, ...], list[str]]:
    hints = _hints(f)
    if "return" not in hints:
        return (), [
            "the return value has no annotation; annotate it (`-> pd.DataFrame`, "
            '`-> tuple[Annotated[object, "model"], Annotated[float, "accuracy"]]`) '
            "or write `-> None` when the step returns nothing"
        ]
    ret = hints["return"]
    if ret is None or ret is type(None):
        return (), []
    items = get_args(ret) if get_origin(ret) is tuple else (ret,)
    if get_origin(ret) is tuple and (not items or Ellipsis in items):
        return (), [
            f"return annotation {ret!r}: a tuple return must list each output, "
            'e.g. tuple[Annotated[object, "model"], Annotated[float, "score"]]'
        ]
    ports, problems, seen = [], [], set()
    for i, item in enumerate(items):
        name = _output_name(item, i, len(items))
        if name in seen:
            problems.append(f"output name {name!r} is used twice; give each output its own name")
        seen.add(name)
        ann = strip_annotated(item)
        ports.append(Port(name, ann, kind_of(ann)))
    return tuple(ports), problems


def _output_name(item: Any, index: int, count: int) -> str:
    if get_origin(item) is Annotated:
        for meta in get_args(item)[1:]:
            if isinstance(meta, str):
                return meta
    return "output" if count == 1 else f"output_{index}"
