"""Create-time checks of a schedule: its pipeline loads, its parameters bind, its path exists."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from headrace.engine.definitions.loader import load_pipeline, split_target
from headrace.engine.errors import HeadraceError, ParameterError, did_you_mean
from headrace.engine.types import PATH, PATHS, kind_of
from headrace.scheduler.source import TriggerSpec, open_source

if TYPE_CHECKING:
    from headrace.engine import Pipeline


def parameter_kind(pipe: Pipeline, name: str) -> str | None:
    """The engine's kind (``headrace.engine.types.kind_of``) of a pipeline parameter.

    The scheduler never classifies annotations itself: a data parameter gets several files
    exactly when the engine reads its type as ``PATHS`` (``list[Path]``, ``tuple[Path, ...]``),
    one file or the folder when it is ``PATH``.

    Returns:
        One of ``headrace.engine.types.KINDS``, or None when there is no such parameter.
    """
    param = pipe.definition.parameter(name)
    return None if param is None else kind_of(param.annotation)


def check_create(
    name: str, pipeline: str, params: dict[str, str], trigger: TriggerSpec | None
) -> tuple[str, TriggerSpec | None]:
    """Check what a new schedule names, before anything is stored.

    Args:
        name: The schedule's name (for messages).
        pipeline: ``FILE.py[:PIPELINE]``.
        params: Parameter values as text.
        trigger: The trigger spec, or None for time schedules.

    Returns:
        The pipeline target with an absolute file path, and the trigger with its data
        parameter resolved.

    Raises:
        HeadraceError: The pipeline does not load, a parameter is wrong, the path is missing,
            or the data parameter is not a ``Path``/``list[Path]`` parameter.
    """
    path, attr = split_target(pipeline)
    target = str(Path(path).expanduser().absolute()) + (f":{attr}" if attr else "")
    pipe = load_pipeline(target)
    values = dict(params)
    if trigger is not None:
        trigger = dataclasses.replace(trigger, data_path_param=_data_param(name, pipe, trigger))
        _check_exists(name, trigger)
        if trigger.data_path_param and trigger.data_path_param not in values:
            values[trigger.data_path_param] = trigger.path
    try:
        pipe.definition.bind_params(values)
    except ParameterError as exc:
        raise ParameterError(f"schedule {name!r}: {exc}") from None
    return target, trigger


def _data_param(name: str, pipe: Pipeline, trigger: TriggerSpec) -> str | None:
    """The parameter that receives the change: as given, else the only Path/list[Path] one."""
    defn = pipe.definition
    paths = [p.name for p in defn.parameters if parameter_kind(pipe, p.name) in (PATH, PATHS)]
    wanted = trigger.data_path_param
    if wanted is None:
        return paths[0] if len(paths) == 1 else None
    kind = parameter_kind(pipe, wanted)
    if kind is None:
        known = [p.name for p in defn.parameters]
        raise ParameterError(
            f"schedule {name!r}: --data-path-param {wanted!r} is not a parameter of pipeline "
            f"{defn.name!r}.{did_you_mean(wanted, known)} Parameters: {', '.join(known) or '(none)'}"
        )
    if kind not in (PATH, PATHS):
        raise ParameterError(
            f"schedule {name!r}: --data-path-param {wanted!r} of pipeline {defn.name!r} must be "
            f"annotated Path (gets the changed file or the folder) or list[Path] (gets the "
            f"changed files); annotate it so, or pick one of: {', '.join(paths) or '(none)'}"
        )
    return wanted


def _check_exists(name: str, trigger: TriggerSpec) -> None:
    try:
        exists = open_source(trigger).exists()
    except (ImportError, ValueError, OSError) as exc:
        raise HeadraceError(
            f"schedule {name!r}: --on-change {trigger.path!r} cannot be opened ({exc}); give an "
            "existing local folder or an fsspec URL whose package is installed"
        ) from None
    if not exists:
        raise HeadraceError(
            f"schedule {name!r}: --on-change {trigger.path!r} does not exist or is not a folder; "
            "create the folder first (mkdir -p), or give the folder that receives the files"
        )
