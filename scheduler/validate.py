"""Create-time checks of a schedule: its pipeline loads, its parameters bind, its path exists."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from headrace.engine.definitions.loader import load_pipeline, split_target
from headrace.engine.definitions.model import PipelineDefinition
from headrace.engine.errors import HeadraceError, ParameterError, did_you_mean
from headrace.engine.types import PATH, PATHS
from headrace.scheduler.source import TriggerSpec, open_source


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
    defn = load_pipeline(target).definition
    values = dict(params)
    if trigger is not None:
        trigger = dataclasses.replace(trigger, data_path_param=_data_param(name, defn, trigger))
        _check_exists(name, trigger)
        if trigger.data_path_param and trigger.data_path_param not in values:
            values[trigger.data_path_param] = trigger.path
    try:
        defn.bind_params(values)
    except ParameterError as exc:
        raise ParameterError(f"schedule {name!r}: {exc}") from None
    return target, trigger


def _data_param(name: str, defn: PipelineDefinition, trigger: TriggerSpec) -> str | None:
    """The parameter that receives the change: as given, else the only Path/list[Path] one."""
    paths = [p.name for p in defn.parameters if p.kind in (PATH, PATHS)]
    wanted = trigger.data_path_param
    if wanted is None:
        return paths[0] if len(paths) == 1 else None
    param = defn.parameter(wanted)
    if param is None:
        known = [p.name for p in defn.parameters]
        raise ParameterError(
            f"schedule {name!r}: --data-path-param {wanted!r} is not a parameter of pipeline "
            f"{defn.name!r}.{did_you_mean(wanted, known)} Parameters: {', '.join(known) or '(none)'}"
        )
    if param.kind not in (PATH, PATHS):
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
