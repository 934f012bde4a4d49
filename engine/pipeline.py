"""``@pipeline``: trace a function body into an immutable DAG of steps with PipelineParameters."""

from __future__ import annotations

import inspect
import threading
import typing
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .component import NO_DEFAULT, Component
from .errors import DefinitionError, ParameterError, did_you_mean
from .types import coerce, kind_of, strip_annotated, type_name

if TYPE_CHECKING:
    import networkx as nx

    from .run import PipelineRun
    from .tracing import Builder


@dataclass(frozen=True)
class PipelineParameter:
    """A typed pipeline input that can change per run (Azure's ``PipelineParameter``).

    Attributes:
        name: the parameter name (the pipeline function's argument).
        annotation: its declared type.
        default: the default value, or ``NO_DEFAULT`` when the parameter is required.
        description: optional free text.
    """

    name: str
    annotation: Any
    default: Any = NO_DEFAULT
    description: str = ""

    @property
    def required(self) -> bool:
        """Whether a value must be given at submit time."""
        return self.default is NO_DEFAULT

    @property
    def kind(self) -> str:
        """The artifact kind of the parameter's type."""
        return kind_of(self.annotation)


@dataclass(frozen=True)
class Binding:
    """Where a step input's value comes from.

    Attributes:
        source: "value" (a constant), "parameter" (a PipelineParameter) or "output" (a step output).
        value: the constant, for source "value".
        name: the parameter name, or the producer's output name.
        step: the producer step, for source "output".
    """

    source: str
    value: Any = None
    name: str = ""
    step: str = ""


@dataclass(frozen=True)
class Step:
    """One node of a pipeline: a component with its inputs bound.

    Attributes:
        name: unique within the pipeline (sub-pipeline steps are prefixed ``sub.``).
        component: the component it runs.
        bindings: input name → :class:`Binding`.
        after: steps that must finish first although no data flows from them.
    """

    name: str
    component: Component
    bindings: Mapping[str, Binding]
    after: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for (data producers and ``after`` steps), without repeats."""
        names = [b.step for b in self.bindings.values() if b.source == "output"]
        return tuple(dict.fromkeys(names + list(self.after)))


@dataclass(frozen=True)
class PipelineDefinition:
    """The traced, validated and immutable form of a ``@pipeline``.

    Attributes:
        name: the pipeline name.
        description: free text.
        parameters: the PipelineParameters in signature order.
        steps: step name → :class:`Step`, in a topological order.
        outputs: pipeline output name → :class:`Binding`.
        graph: the ``networkx.DiGraph`` of step names (edge attribute ``kind``: data or order).
    """

    name: str
    description: str
    parameters: tuple[PipelineParameter, ...]
    steps: Mapping[str, Step]
    outputs: Mapping[str, Binding]
    graph: nx.DiGraph

    def parameter(self, name: str) -> PipelineParameter | None:
        """Return the parameter called ``name``, or None."""
        return next((p for p in self.parameters if p.name == name), None)

    def bind_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate and coerce parameter values; fill in defaults.

        Args:
            params: name → value as given by the user (strings from the CLI are converted).

        Raises:
            ParameterError: listing every unknown, missing or ill-typed parameter.
        """
        params = dict(params or {})
        known = [p.name for p in self.parameters]
        problems = [
            f"unknown parameter {k!r} for pipeline {self.name!r}.{did_you_mean(k, known)} "
            f"Known parameters: {', '.join(known) or '(none)'}"
            for k in params
            if k not in known
        ]
        values: dict[str, Any] = {}
        for p in self.parameters:
            if p.name not in params:
                if p.required:
                    problems.append(
                        f"parameter {p.name!r} ({type_name(p.annotation)}) is required by "
                        f"pipeline {self.name!r}; pass it, e.g. --param {p.name}=VALUE"
                    )
                else:
                    values[p.name] = coerce(p.default, p.annotation)  # checked at build time
                continue
            try:
                values[p.name] = coerce(params[p.name], p.annotation)
            except ValueError as exc:
                problems.append(
                    f"parameter {p.name!r} ({type_name(p.annotation)}) of pipeline "
                    f"{self.name!r}: {exc}"
                )
        if problems:
            raise ParameterError("\n".join(problems))
        return values


class Pipeline:
    """A pipeline definition made with ``@pipeline``; traced lazily on first use.

    Attributes:
        fn: the traced function.
        name: the pipeline name.
        description: free text.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None, description: str | None):
        self.fn = fn
        self.name = name or fn.__name__
        doc = inspect.getdoc(fn) or ""
        self.description = description if description is not None else doc.split("\n")[0]
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self._definition: PipelineDefinition | None = None
        self._lock = threading.Lock()

    @property
    def definition(self) -> PipelineDefinition:
        """The traced and validated pipeline (built once).

        Raises:
            DefinitionError: listing every problem found in the pipeline and its components.
        """
        if self._definition is None:
            with self._lock:
                if self._definition is None:
                    from .tracing import build

                    self._definition = build(self)
        return self._definition

    def validate(self) -> PipelineDefinition:
        """Trace and validate now; return the definition (raises DefinitionError when invalid)."""
        return self.definition

    @property
    def parameters(self) -> tuple[PipelineParameter, ...]:
        """The PipelineParameters."""
        return self.definition.parameters

    @property
    def steps(self) -> Mapping[str, Step]:
        """Step name → Step, topologically ordered."""
        return self.definition.steps

    @property
    def graph(self) -> nx.DiGraph:
        """The DAG of step names."""
        return self.definition.graph

    def signature_parameters(self) -> tuple[PipelineParameter, ...]:
        """Read the PipelineParameters from the function signature (without tracing).

        Raises:
            DefinitionError: a parameter has no annotation or is ``*args``/``**kwargs``.
        """
        try:
            hints = typing.get_type_hints(self.fn, include_extras=True)
        except Exception as exc:
            raise DefinitionError(
                f"pipeline {self.name!r}: its annotations cannot be resolved ({exc})"
            ) from exc
        params, problems = [], []
        for p in inspect.signature(self.fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name not in hints:
                problems.append(
                    f"pipeline {self.name!r}, parameter {p.name!r}: every pipeline parameter "
                    f"needs a name and a type annotation, e.g. `{p.name}: float = 0.1`"
                )
                continue
            ann = strip_annotated(hints[p.name])
            if p.default is not NO_DEFAULT and p.default is not None:
                try:
                    coerce(p.default, ann)
                except ValueError as exc:
                    problems.append(
                        f"pipeline {self.name!r}, parameter {p.name!r}: its default "
                        f"{p.default!r} does not fit {type_name(ann)} ({exc}); fix the default"
                    )
                    continue
            params.append(PipelineParameter(p.name, ann, p.default))
        if problems:
            raise DefinitionError(problems, title=f"pipeline {self.name!r} is not valid")
        return tuple(params)

    def submit(self, params: Mapping[str, Any] | None = None, **options: Any) -> PipelineRun:
        """Run the pipeline and wait for it; see :func:`headrace.engine.runner.submit`."""
        from .runner import submit

        return submit(self, params, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            raise DefinitionError(
                f"pipeline {self.name!r} was called outside a pipeline; to run it use "
                f"{self.fn.__name__}.submit(params={{...}}) or `headrace run FILE.py`"
            )
        return builder.inline(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name}>"


def pipeline(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> Any:
    """Declare a pipeline: the function body wires components; its parameters are PipelineParameters.

    Args:
        fn: the function (when used bare).
        name: the pipeline name; defaults to the function name.
        description: defaults to the first docstring line.
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name, description)

    return wrap(fn) if fn is not None else wrap


_builder: ContextVar[Builder | None] = ContextVar("headrace_builder", default=None)


def current_builder() -> Builder | None:
    """The builder tracing a pipeline body right now, or None."""
    return _builder.get()


def frozen_mapping(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a copy of ``d``."""
    return MappingProxyType(dict(d))
