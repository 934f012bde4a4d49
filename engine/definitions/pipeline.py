"""``@pipeline``: trace a function body into an immutable DAG of steps with PipelineParameters."""

from __future__ import annotations

import inspect
import threading
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DefinitionError
from ..types import coerce, strip_annotated, type_name
from ._active import current_builder
from .component import NO_DEFAULT
from .model import PipelineDefinition, PipelineLike, PipelineParameter, Step
from .tracing import build

if TYPE_CHECKING:
    import networkx as nx

    from ..store.runs import PipelineRun


class Pipeline(PipelineLike):
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
        """Run the pipeline and wait for it; see :func:`headrace.engine.execution.submit.submit`."""
        from ..execution.submit import submit

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
