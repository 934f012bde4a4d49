"""Tracing a ``@pipeline`` body: step handles, output references and the builder that records them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import DefinitionError, did_you_mean
from ..types import PARAMETER, PATH, PATHS, coerce, mismatch, strip_annotated, type_name
from ._active import start_tracing, stop_tracing
from .component import NO_DEFAULT, Component, Port
from .graph import topological_order
from .model import (
    Binding,
    PipelineDefinition,
    PipelineLike,
    PipelineParameter,
    Step,
    frozen_mapping,
)


class Traceable(Protocol):
    """What tracing needs of a pipeline (``Pipeline`` provides it; tracing never imports it)."""

    name: str
    description: str
    fn: Callable[..., Any]

    def signature_parameters(self) -> tuple[PipelineParameter, ...]:
        """The PipelineParameters read from the function signature."""
        ...


@dataclass(eq=False)
class _Draft:
    """A step while its pipeline is being traced (renamed by ``.named``, extended by ``.after``)."""

    name: str
    component: Component
    bindings: dict[str, Any]
    after: list[_Draft] = field(default_factory=list)


@dataclass(frozen=True)
class OutputRef:
    """A reference to one named output of a traced step."""

    draft: _Draft
    port: Port

    def __repr__(self) -> str:
        return f"<output {self.port.name!r} of step {self.draft.name!r}>"

    def __bool__(self) -> bool:
        raise DefinitionError(_NO_VALUES_MSG.format(what=repr(self)))


@dataclass(frozen=True)
class ParamRef:
    """A reference to a PipelineParameter while tracing."""

    param: PipelineParameter

    def __repr__(self) -> str:
        return f"<pipeline parameter {self.param.name!r}>"

    def __bool__(self) -> bool:
        raise DefinitionError(_NO_VALUES_MSG.format(what=repr(self)))


_NO_VALUES_MSG = (
    "{what} has no value while the pipeline is being built: a pipeline body only wires "
    "steps together; compute with the value inside a @component instead"
)


class _Invalid:
    """Stands in for a reference that was already reported as a problem (tracing goes on)."""

    def __repr__(self) -> str:
        return "<invalid reference>"


INVALID = _Invalid()


class Outputs:
    """Attribute access to a step's named outputs: ``step.outputs.model``."""

    def __init__(self, owner: str, refs: dict[str, Any], builder: Builder | None = None):
        self._owner = owner
        self._refs = refs
        self._builder = builder

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        if name not in self._refs:
            problem = (
                f"{self._owner} has no output {name!r}.{did_you_mean(name, self._refs)} "
                f"Its outputs: {', '.join(self._refs) or '(none)'}"
            )
            if self._builder is None:
                raise DefinitionError(problem)
            self._builder.problems.append(problem)  # keep tracing: report every problem
            return INVALID
        return self._refs[name]

    def __iter__(self) -> Any:
        return iter(self._refs)


class StepHandle:
    """What calling a component inside a pipeline returns: name it, order it, read its outputs."""

    def __init__(self, builder: Builder, draft: _Draft):
        self._builder = builder
        self._draft = draft

    @property
    def name(self) -> str:
        """The step's unique name."""
        return self._draft.name

    @property
    def outputs(self) -> Outputs:
        """The step's outputs by name."""
        refs = {p.name: OutputRef(self._draft, p) for p in self._draft.component.outputs}
        return Outputs(f"step {self.name!r}", refs, self._builder)

    def named(self, name: str) -> StepHandle:
        """Give the step an explicit name (unique within the pipeline); returns the handle."""
        self._builder.rename(self._draft, name)
        return self

    def after(self, *others: Any) -> StepHandle:
        """Run this step only after ``others`` (steps or sub-pipelines) finished; returns the handle."""
        for other in others:
            self._draft.after.extend(self._builder.drafts_of(other, f"{self.name}.after()"))
        return self

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"


class SubPipelineHandle:
    """What calling a pipeline inside another returns."""

    def __init__(self, builder: Builder, name: str, drafts: list[_Draft], outputs: dict[str, Any]):
        self._builder = builder
        self.name = name
        self._drafts = drafts
        self._outputs = outputs

    @property
    def outputs(self) -> Outputs:
        """The sub-pipeline's returned outputs by name."""
        return Outputs(f"sub-pipeline {self.name!r}", self._outputs, self._builder)

    def after(self, *others: Any) -> SubPipelineHandle:
        """Run every step of the sub-pipeline after ``others``; returns the handle."""
        for other in others:
            deps = self._builder.drafts_of(other, f"{self.name}.after()")
            for d in self._drafts:
                d.after.extend(deps)
        return self


class Builder:
    """Records steps while a pipeline body runs; collects every problem instead of stopping."""

    def __init__(self, pipeline: Traceable):
        self.pipeline = pipeline
        self.drafts: list[_Draft] = []
        self.problems: list[str] = []
        self.prefix = ""
        self.used_params: set[str] = set()
        self.prefixes: set[str] = set()
        self._names: dict[str, int] = {}  # step name → how many drafts carry it
        self._next: dict[str, int] = {}  # base name → the first suffix that may be free

    def _unique(self, base: str) -> str:
        """``base``, else ``base_N`` with the smallest free N ≥ 2 (amortized O(1) per step)."""
        if not self._names.get(base):
            return base
        n = self._next.get(base, 2)
        while self._names.get(f"{base}_{n}"):
            n += 1
        self._next[base] = n + 1
        return f"{base}_{n}"

    def _record(self, draft: _Draft) -> None:
        self.drafts.append(draft)
        self._names[draft.name] = self._names.get(draft.name, 0) + 1

    def rename(self, draft: _Draft, name: str) -> None:
        """Rename a step, reporting a clash."""
        full = self.prefix + name if not name.startswith(self.prefix) else name
        if full != draft.name and self._names.get(full):
            self.problems.append(
                f"step name {full!r} is used twice; give each step its own name with .named()"
            )
        self._names[draft.name] -= 1
        if not self._names[draft.name]:
            self._freed(draft.name)
        draft.name = full
        self._names[full] = self._names.get(full, 0) + 1

    def _freed(self, name: str) -> None:
        """A renamed step freed ``name``: a later ``base_N`` may take that suffix again."""
        base, _, suffix = name.rpartition("_")
        if suffix.isdigit() and base in self._next:
            self._next[base] = min(self._next[base], int(suffix))

    def drafts_of(self, other: Any, where: str) -> list[_Draft]:
        """The steps behind a handle passed to ``.after()``."""
        if isinstance(other, StepHandle):
            return [other._draft]
        if isinstance(other, SubPipelineHandle):
            return list(other._drafts)
        if isinstance(other, OutputRef):
            return [other.draft]
        self.problems.append(f"{where}: expected a step or sub-pipeline, got {other!r}")
        return []

    def add_step(
        self, comp: Component, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> StepHandle:
        """Record a call of ``comp`` as a new step and return its handle."""
        where = f"component {comp.name!r}"
        given = self._match_arguments(comp, args, kwargs, where)
        bindings: dict[str, Any] = {}
        for port in comp.inputs:
            if port.name in given:
                bindings[port.name] = self._bind(port, given[port.name], where)
            elif port.required:
                self.problems.append(
                    f"{where}: argument {port.name!r} ({type_name(port.annotation)}) is missing; "
                    f"pass {port.name}=... (a step output, a pipeline parameter or a value)"
                )
            else:
                bindings[port.name] = Binding("value", value=port.default)
        draft = _Draft(self._unique(self.prefix + comp.name), comp, bindings)
        self._record(draft)
        return StepHandle(self, draft)

    def _match_arguments(
        self, comp: Component, args: tuple[Any, ...], kwargs: dict[str, Any], where: str
    ) -> dict[str, Any]:
        names = [p.name for p in comp.inputs]
        if len(args) > len(names):
            self.problems.append(
                f"{where}: takes {len(names)} inputs ({', '.join(names)}) but got {len(args)} "
                "positional arguments; pass them by name"
            )
        given = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                self.problems.append(
                    f"{where}: unknown argument {key!r}.{did_you_mean(key, names)} "
                    f"Its inputs: {', '.join(names) or '(none)'}"
                )
            elif key in given:
                self.problems.append(f"{where}: argument {key!r} is given twice")
            else:
                given[key] = value
        return given

    def _bind(self, port: Port, value: Any, where: str) -> Any:
        at = f"{where}, argument {port.name!r}"
        value = self._single_output(value, at)
        if value is INVALID:
            return Binding("value", value=None)
        if value is None and port.default is None:
            return Binding("value", value=None)
        if isinstance(value, OutputRef):
            why = _type_mismatch(value.port.annotation, port.annotation)
            if why is not None:
                self.problems.append(
                    f"{at}: expects {type_name(port.annotation)} but step {value.draft.name!r} "
                    f"output {value.port.name!r} is {type_name(value.port.annotation)}{why}; "
                    "pass an output of the right type or change one of the annotations"
                )
            return value
        if isinstance(value, ParamRef):
            self.used_params.add(value.param.name)
            why = _type_mismatch(value.param.annotation, port.annotation, from_parameter=True)
            if why is not None:
                self.problems.append(
                    f"{at}: expects {type_name(port.annotation)} but pipeline parameter "
                    f"{value.param.name!r} is {type_name(value.param.annotation)}{why}; change "
                    "the parameter's annotation to match"
                )
            return Binding("parameter", name=value.param.name)
        if isinstance(value, (Component, PipelineLike, StepHandle, SubPipelineHandle)):
            self.problems.append(f"{at}: got {value!r}; call it first and pass the result")
            return Binding("value", value=None)
        return Binding("value", value=self._constant(port, value, at))

    def _constant(self, port: Port, value: Any, at: str) -> Any:
        if port.kind in (PARAMETER, PATH, PATHS):
            try:
                return coerce(value, port.annotation)
            except ValueError as exc:
                self.problems.append(f"{at}: {exc}; pass a {type_name(port.annotation)}")
        return value

    def _single_output(self, value: Any, at: str) -> Any:
        if isinstance(value, (StepHandle, SubPipelineHandle)):
            outs = list(value.outputs)
            if len(outs) == 1:
                return value.outputs[outs[0]]
            kind = "step" if isinstance(value, StepHandle) else "sub-pipeline"
            if not outs:
                self.problems.append(
                    f"{at}: {kind} {value.name!r} returns nothing; to run after it use "
                    f".after({value.name.rsplit('.', 1)[-1]})"
                )
            else:
                self.problems.append(
                    f"{at}: {kind} {value.name!r} has several outputs ({', '.join(outs)}); "
                    f"pick one, e.g. {value.name.rsplit('.', 1)[-1]}.outputs.{outs[0]}"
                )
            return INVALID
        return value

    def inline(self, sub: Traceable, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Trace ``sub`` inside this pipeline with prefixed step names."""
        where = f"sub-pipeline {sub.name!r}"
        try:
            params = sub.signature_parameters()
        except DefinitionError as exc:
            self.problems.extend(exc.problems)
            return SubPipelineHandle(self, sub.name, [], {})
        fake = Component(fn=sub.fn, name=sub.name, inputs=tuple(_port(p) for p in params))
        given = self._match_arguments(fake, args, kwargs, where)
        values: dict[str, Any] = {}
        for p in params:
            if p.name in given:
                v = self._single_output(given[p.name], f"{where}, argument {p.name!r}")
                values[p.name] = v
            elif p.required:
                self.problems.append(f"{where}: argument {p.name!r} is missing; pass {p.name}=...")
                values[p.name] = None
            else:
                values[p.name] = p.default
        prefix, n = self.prefix + sub.name, 2
        while prefix in self.prefixes or self._names.get(prefix):
            prefix, n = f"{self.prefix}{sub.name}_{n}", n + 1
        self.prefixes.add(prefix)
        before = len(self.drafts)
        saved, self.prefix = self.prefix, prefix + "."
        try:
            returned = sub.fn(**values)
        finally:
            self.prefix = saved
        outputs = self._outputs(returned, where)
        return SubPipelineHandle(self, prefix, self.drafts[before:], outputs)

    def _outputs(self, returned: Any, where: str) -> dict[str, Any]:
        if returned is None:
            return {}
        if isinstance(returned, (StepHandle, SubPipelineHandle, OutputRef, ParamRef)):
            returned = {"output": returned}
        if not isinstance(returned, dict):
            self.problems.append(
                f"{where} returned {type(returned).__name__}; return a dict of named outputs, "
                'e.g. {"model": train_step.outputs.model}'
            )
            return {}
        return {k: self._single_output(v, f"{where}, output {k!r}") for k, v in returned.items()}

    def freeze_binding(self, ref: Any) -> Binding:
        """Turn a traced reference into an immutable Binding."""
        if isinstance(ref, OutputRef):
            return Binding("output", name=ref.port.name, step=ref.draft.name)
        if isinstance(ref, ParamRef):
            self.used_params.add(ref.param.name)
            return Binding("parameter", name=ref.param.name)
        if isinstance(ref, Binding):
            return ref
        return Binding("value", value=ref)


def _type_mismatch(src: Any, dst: Any, *, from_parameter: bool = False) -> str | None:
    """None when ``src`` may feed ``dst``; else "" or, for nested types, which part differs."""
    pair = mismatch(src, dst, from_parameter=from_parameter)
    if pair is None:
        return None
    if pair == (strip_annotated(src), strip_annotated(dst)):
        return ""
    return f" ({type_name(pair[0])} does not fit {type_name(pair[1])})"


def _port(p: PipelineParameter) -> Port:
    return Port(p.name, p.annotation, p.kind, p.default)


def build(pipe: Traceable) -> PipelineDefinition:
    """Trace ``pipe`` and validate it, reporting every problem at once.

    Raises:
        DefinitionError: listing each problem with the component, the argument and the fix.
    """

    params = pipe.signature_parameters()
    builder = Builder(pipe)
    token = start_tracing(builder)
    try:
        returned = pipe.fn(**{p.name: ParamRef(p) for p in params})
    except DefinitionError as exc:
        builder.problems.extend(exc.problems)
        returned = None
    except Exception as exc:
        builder.problems.append(
            f"pipeline {pipe.name!r}: its body raised {type(exc).__name__}: {exc}. A pipeline "
            "body only calls components and passes their outputs on; compute inside components"
        )
        returned = None
    finally:
        stop_tracing(token)
    outputs = {
        k: builder.freeze_binding(v)
        for k, v in builder._outputs(returned, f"pipeline {pipe.name!r}").items()
    }
    steps = [
        Step(
            d.name,
            d.component,
            frozen_mapping({k: builder.freeze_binding(v) for k, v in d.bindings.items()}),
            tuple(dict.fromkeys(a.name for a in d.after)),
        )
        for d in builder.drafts
    ]
    for p in params:
        if p.required and p.name not in builder.used_params:
            builder.problems.append(
                f"pipeline {pipe.name!r}: required parameter {p.name!r} is not used by any step; "
                "pass it to a component or remove it"
            )
    order = topological_order(pipe.name, steps, builder.problems)
    if builder.problems:
        raise DefinitionError(builder.problems, title=f"pipeline {pipe.name!r} is not valid")
    by_name = {s.name: s for s in steps}
    return PipelineDefinition(
        name=pipe.name,
        description=pipe.description,
        parameters=params,
        steps=frozen_mapping({n: by_name[n] for n in order}),
        outputs=frozen_mapping(outputs),
    )


__all__ = [
    "Builder",
    "OutputRef",
    "ParamRef",
    "StepHandle",
    "SubPipelineHandle",
    "build",
    "NO_DEFAULT",
]
