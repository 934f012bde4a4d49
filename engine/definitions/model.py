"""The frozen values a traced pipeline is made of: PipelineParameter, Binding, Step, PipelineDefinition."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ParameterError, did_you_mean
from ..types import ArtifactKind, coerce, kind_of, type_name
from .component import NO_DEFAULT, Component

if TYPE_CHECKING:
    import networkx as nx

BindingSource = Literal["value", "parameter", "output"]
"""Where a step input's value comes from: a constant, a PipelineParameter or a step output."""


class PipelineLike:
    """Marker base of ``Pipeline``: lets tracing recognise a pipeline without importing it."""

    name: str


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
    def kind(self) -> ArtifactKind:
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

    source: BindingSource
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
    """

    name: str
    description: str
    parameters: tuple[PipelineParameter, ...]
    steps: Mapping[str, Step]
    outputs: Mapping[str, Binding]

    @functools.cached_property
    def graph(self) -> nx.DiGraph:
        """The ``networkx.DiGraph`` of step names (edge attribute ``kind``: data or order;
        ``inputs``: the ``(output, argument)`` pairs fed), built when first asked."""
        from .graph import build_graph

        return build_graph(self.name, list(self.steps.values()))

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
                    try:
                        values[p.name] = coerce(p.default, p.annotation)
                    except ValueError as exc:  # `x: float = None`: the build lets None through
                        problems.append(
                            f"pipeline {self.name!r}, parameter {p.name!r}: its default "
                            f"{p.default!r} does not fit {type_name(p.annotation)} ({exc}); "
                            f"annotate it `{p.name}: {type_name(p.annotation)} | None = "
                            f"{p.default!r}`, give a default of that type, or pass "
                            f"--param {p.name}=VALUE"
                        )
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


def frozen_mapping(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a copy of ``d``."""
    return MappingProxyType(dict(d))
