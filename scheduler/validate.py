"""Create-time checks of a schedule: its pipeline loads, its parameters bind, its path exists."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from headrace.engine.definitions.loader import load_pipeline, split_target
from headrace.engine.errors import HeadraceError, ParameterError, did_you_mean
from headrace.engine.types import PATH, PATHS, kind_of
from headrace.scheduler.errors import SchedulerError
from headrace.scheduler.source import TriggerSpec, open_source

if TYPE_CHECKING:
    from headrace.engine import Pipeline

CATCH_UP = ("none", "latest", "all")
OVERLAP = ("skip", "queue", "allow")
EXECUTORS = ("local", "local-processes", "dask", "prefect")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


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


class Checked(NamedTuple):
    """A new schedule's references, resolved at create time.

    Attributes:
        target: ``FILE.py[:PIPELINE]`` with an absolute file path.
        trigger: The trigger with its data parameter resolved, or None.
        params: The parameter values, relative local paths of ``Path``/``list[Path]``
            parameters made absolute (against the folder ``schedule create`` ran in).
        pipeline_name: The pipeline's ``name=``.
    """

    target: str
    trigger: TriggerSpec | None
    params: dict[str, str]
    pipeline_name: str


def check_create(
    name: str, pipeline: str, params: dict[str, str], trigger: TriggerSpec | None
) -> Checked:
    """Check what a new schedule names, before anything is stored.

    Args:
        name: The schedule's name (for messages).
        pipeline: ``FILE.py[:PIPELINE]``.
        params: Parameter values as text.
        trigger: The trigger spec, or None for time schedules.

    Raises:
        HeadraceError: The pipeline does not load, a parameter is wrong, the path is missing,
            or the data parameter is not a ``Path``/``list[Path]`` parameter.
    """
    path, attr = split_target(pipeline)
    target = str(Path(path).expanduser().absolute()) + (f":{attr}" if attr else "")
    pipe = load_pipeline(target)
    params = absolute_paths(pipe, params)
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
    return Checked(target, trigger, params, pipe.definition.name)


def absolute_paths(pipe: Pipeline, params: dict[str, str]) -> dict[str, str]:
    """``params`` with relative local paths of ``Path``/``list[Path]`` parameters made absolute.

    A daemon runs the pipeline from wherever it was started, so a path relative to the
    folder the schedule was created in is resolved now (as the pipeline file is). URLs
    (``s3://``, ``ds://``) and absolute paths stay as they are.
    """
    from headrace.scheduler.launcher import decode_files, encode_files

    resolved = dict(params)
    for key, value in params.items():
        kind = parameter_kind(pipe, key)
        if kind == PATH:
            resolved[key] = _absolute(value)
        elif kind == PATHS:
            listed = value.lstrip().startswith("[")
            files = [_absolute(f) for f in decode_files(value)]
            resolved[key] = json.dumps(files) if listed else encode_files(files)
    return resolved


def _absolute(value: str) -> str:
    if "://" in value or not value.strip():
        return value
    return str(Path(value).expanduser().absolute())


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
    except Exception as exc:  # a remote store raises its own errors (credentials, network)
        raise HeadraceError(
            f"schedule {name!r}: --on-change {trigger.path!r} cannot be opened "
            f"({type(exc).__name__}: {exc}); give an existing local folder, or an fsspec URL "
            "whose package is installed and whose credentials are configured (the store's "
            "usual ones, e.g. AWS_* variables for s3://)"
        ) from None
    if not exists:
        raise HeadraceError(
            f"schedule {name!r}: --on-change {trigger.path!r} does not exist or is not a folder; "
            "create the folder first (mkdir -p), or give the folder that receives the files"
        )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SchedulerError(
            f"schedule name {name!r} is not valid; use 1-80 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, e.g. nightly-training"
        )


def check_name_and_policies(name: str, catch_up: str, overlap: str) -> None:
    """Raise ``SchedulerError`` for a malformed name or an unknown --catch-up/--overlap."""
    _check_name(name)
    _check_choice("--catch-up", catch_up, CATCH_UP)
    _check_choice("--overlap", overlap, OVERLAP)


def check_executor(executor: str, dask_address: str | None) -> None:
    """Raise ``SchedulerError`` for an unknown --executor or a misplaced --dask-address."""
    _check_choice("--executor", executor, EXECUTORS)
    if dask_address is not None and executor != "dask":
        raise SchedulerError(
            f"--dask-address goes with --executor dask, not --executor {executor}; add "
            "--executor dask or leave --dask-address out"
        )


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SchedulerError(
            f"{option} {value!r} is not one of {', '.join(choices)}.{did_you_mean(value, choices)}"
        )
