"""``parallel_run(...)``: a component-like definition whose call in a ``@pipeline`` adds one step.

The step's ports are decided at the call: ``data=`` (what is split), every other argument a
side input, and the knobs given at the call (so they can be PipelineParameters). Its cache
key covers the entry's code: the component's version carries the entry's fingerprint, read
again for every run.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

from ..definitions._active import current_builder
from ..definitions.component import Component, Port
from ..definitions.tracing import OutputRef, ParamRef, StepHandle
from ..errors import DefinitionError
from ..fingerprint.digest import fingerprint_value
from ..types import kind_of
from .config import KNOB_NAMES, OUTPUT_ACTIONS, Knobs, ParallelSpec, knob_problems
from .entry import entry_fingerprint, resolve_entry

NOT_AT_CALL = ("output_action", "append_row_file_name", "arguments", "environment_variables")


class StepFunction:
    """The function a parallel-run step's worker calls (picklable by reference)."""

    def __init__(self, spec: ParallelSpec):
        self.spec = spec
        self.__name__ = self.__qualname__ = spec.name
        self.__module__ = __name__
        self.__doc__ = f"Parallel-run step {spec.name} (entry {spec.entry.label})."

    def __call__(self, **kwargs: Any) -> Any:
        from .run import run_step

        return run_step(self.spec, kwargs)


class ParallelComponent(Component):
    """A Component whose version carries the entry's code fingerprint, read when asked."""

    @property  # type: ignore[override]
    def version(self) -> str:
        """The entry's fingerprint (a file entry is read again when it changed) and the
        settings given to ``parallel_run(...)`` that change the step's result: arguments,
        environment variables, output action and every knob but ``max_concurrency``."""
        spec: ParallelSpec = self.fn.spec  # type: ignore[attr-defined]
        settings = {f.name: getattr(spec.knobs, f.name) for f in fields(spec.knobs)}
        settings.pop("max_concurrency")  # how many workers: the same results
        setup = fingerprint_value((settings, spec.output_action, spec.arguments, spec.env))
        base = self.__dict__.get("_base_version")
        code = entry_fingerprint(spec.entry, spec.arguments, spec.env, spec.where)
        return f"parallel-run:{base}:{code}:{setup}"

    @version.setter
    def version(self, value: str | None) -> None:
        self.__dict__["_base_version"] = value


@dataclass(frozen=True, eq=False)
class ParallelRun:
    """A parallel-run definition: call it inside a ``@pipeline`` body to add a step.

    Attributes:
        spec: what the step does.
        description: free text.
    """

    spec: ParallelSpec
    description: str = ""

    @property
    def name(self) -> str:
        """The step's component name."""
        return self.spec.name

    def __call__(self, data: Any = None, **kwargs: Any) -> Any:
        builder = current_builder()
        where = self.spec.where
        if builder is None:
            raise DefinitionError(
                f"{where}: call it inside a @pipeline body (it adds a step); run the "
                "pipeline with .submit() to score"
            )
        problems = []
        if data is None:
            problems.append(
                f"{where}: argument data is missing; pass data= (a folder or list of files, "
                "a table, or a Parquet/CSV file or folder with input_format=...)"
            )
        for name in NOT_AT_CALL:
            if name in kwargs:
                problems.append(
                    f"{where}, argument {name}: it decides the step's outputs and workers; "
                    f"pass it to parallel_run(...) instead of the call"
                )
                kwargs.pop(name)
        knobs = {k: v for k, v in kwargs.items() if k in KNOB_NAMES}
        constants = {k: v for k, v in knobs.items() if not isinstance(v, (ParamRef, OutputRef))}
        fixed = frozenset(k for k in knobs if k not in constants)
        try:
            merged = self.spec.knobs.with_values(constants)
        except TypeError as exc:
            problems.append(f"{where}: {exc}")
            merged = self.spec.knobs
        problems += knob_problems(where, merged, fixed)
        if data is not None and not isinstance(data, (ParamRef, OutputRef, StepHandle)):
            from .checks import data_problems

            problems += data_problems(where, data, merged, "input_format" in fixed)
        if problems:
            raise DefinitionError(problems, title=f"{where} is not valid")
        comp = self._component(data, kwargs)
        return builder.add_step(comp, (), {"data": data, **kwargs})

    def _component(self, data: Any, kwargs: dict[str, Any]) -> Component:
        inputs = [_port("data", data, for_data=True)]
        side = []
        for name, value in kwargs.items():
            port = _port(name, value)
            inputs.append(port)
            if name not in KNOB_NAMES:
                side.append((name, port.annotation))
        spec = ParallelSpec(
            self.spec.name,
            self.spec.entry,
            self.spec.knobs,
            self.spec.output_action,
            self.spec.arguments,
            self.spec.env,
            tuple(side),
        )
        return ParallelComponent(
            fn=StepFunction(spec),
            name=spec.name,
            version=None,
            description=self.description,
            inputs=tuple(inputs),
            outputs=_outputs(spec),
        )


def _outputs(spec: ParallelSpec) -> tuple[Port, ...]:
    import pandas as pd

    if spec.output_action == "summary_only":
        return (Port("output", Path, kind_of(Path)),)
    ports = [Port("results", pd.DataFrame, kind_of(pd.DataFrame))]
    if spec.knobs.append_row_file_name:
        ports.append(Port("results_file", Path, kind_of(Path)))
    return tuple(ports)


def _port(name: str, value: Any, for_data: bool = False) -> Port:
    annotation = _annotation(value, for_data)
    return Port(name, annotation, kind_of(annotation))


def _annotation(value: Any, for_data: bool) -> Any:
    if isinstance(value, StepHandle):
        outs = list(value.outputs)
        value = value.outputs[outs[0]] if len(outs) == 1 else value
    if isinstance(value, OutputRef):
        return value.port.annotation
    if isinstance(value, ParamRef):
        ann = value.param.annotation
        return Path if for_data and ann is str else ann
    if isinstance(value, (str, Path)) and (for_data or isinstance(value, Path)):
        return Path
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (str, Path)) for v in value)
    ):
        return list[Path] if for_data else type(value)
    if value is None:
        return Optional[object]
    if type(value) in (bool, int, float, str):
        return type(value)
    if kind_of(type(value)) == "table":
        return type(value)
    return object


def parallel_run(
    entry: Any,
    name: str | None = None,
    mini_batch_size: int | str = 10,
    error_threshold: int = -1,
    allowed_failed_count: int = -1,
    allowed_failed_percent: float = 100,
    output_action: str = "append_row",
    run_max_try: int = 3,
    run_invocation_timeout: float = 60,
    max_concurrency: int | None = None,
    arguments: tuple[str, ...] | list[str] = (),
    environment_variables: dict[str, str] | None = None,
    append_row_file_name: str | None = None,
    glob: str | None = None,
    input_format: str | None = None,
    description: str = "",
) -> ParallelRun:
    """Define a parallel-run step for batch inference (Azure's ParallelRunStep).

    Args:
        entry: a ``.py`` file (relative to the file calling this), a dotted module name, a
            module or a class. A module has ``init(...)``, ``run(mini_batch)`` and optionally
            ``shutdown()``; a class loads in ``__init__(...)`` and scores in ``__call__``.
        name: the step name (defaults to the entry's name).
        mini_batch_size: files per mini-batch, or rows (int) or about a size ("1MB") of a table.
        error_threshold: failed items tolerated over the whole step; -1 means any number.
        allowed_failed_count: failed mini-batches tolerated; -1 means any number.
        allowed_failed_percent: failed mini-batches tolerated (percent), checked at the end.
        output_action: "append_row" (output ``results``, one ordered table) or
            "summary_only" (output ``output``, the folder entries write into).
        run_max_try: attempts per mini-batch.
        run_invocation_timeout: seconds one ``run(mini_batch)`` may take.
        max_concurrency: worker processes (default: the usable cores).
        arguments: ``sys.argv[1:]`` for the entry while it is imported and init() runs.
        environment_variables: set in every worker before the entry is imported.
        append_row_file_name: also write the results as a CSV with a header (output
            ``results_file``).
        glob: for a folder, only the files matching it.
        input_format: "parquet" or "csv": the file or folder is a table whose rows are split.
        description: free text.

    Raises:
        DefinitionError: naming the step, the argument and the fix.
    """
    caller = inspect.stack()[1].filename
    base = Path(caller).resolve().parent if Path(caller).exists() else Path.cwd()
    label = name or _default_name(entry)
    where = f"parallel_run step {label!r}"
    env = tuple(sorted((str(k), str(v)) for k, v in (environment_variables or {}).items()))
    ref, problems = resolve_entry(where, entry, base, tuple(map(str, arguments)), env)
    knobs = Knobs(
        mini_batch_size,
        error_threshold,
        allowed_failed_count,
        allowed_failed_percent,
        run_max_try,
        run_invocation_timeout,
        max_concurrency,
        glob,
        input_format,
        append_row_file_name,
    )
    problems += knob_problems(where, knobs)
    if output_action not in OUTPUT_ACTIONS:
        problems.append(
            f"{where}, argument output_action={output_action!r}: choose 'append_row' "
            "(one ordered table) or 'summary_only' (entries write files)"
        )
    if output_action == "summary_only" and append_row_file_name is not None:
        problems.append(
            f"{where}, argument append_row_file_name={append_row_file_name!r}: summary_only "
            "steps have no results table to write as CSV; drop it, or use "
            "output_action='append_row'"
        )
    if problems or ref is None:
        raise DefinitionError(problems, title=f"{where} is not valid")
    spec = ParallelSpec(label, ref, knobs, output_action, tuple(map(str, arguments)), env)
    return ParallelRun(spec, description)


def _default_name(entry: Any) -> str:
    if isinstance(entry, type):
        return entry.__name__
    if hasattr(entry, "__name__"):
        return str(entry.__name__).rsplit(".", 1)[-1]
    return Path(str(entry)).stem.rsplit(".", 1)[-1] or "parallel_run"
