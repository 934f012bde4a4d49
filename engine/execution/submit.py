"""``submit()``: check a pipeline's parameters, open the workspace, and run it to the end."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..store.workspace import Workspace
from .executors import Executor, make_executor
from .inputs import check_paths
from .provenance import GitLookup, provenance
from .runner import EventHandler, Runner

if TYPE_CHECKING:
    from ..definitions.pipeline import Pipeline
    from ..store.runs import PipelineRun


def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxxxx``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def submit(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    regenerate_outputs: bool = False,
    executor: str | Executor = "local",
    max_workers: int | None = None,
    continue_on_step_failure: bool = False,
    experiment: str | None = None,
    workspace: str | os.PathLike[str] | Workspace | None = None,
    run_id: str | None = None,
    on_event: EventHandler | None = None,
    tags: Mapping[str, str] | None = None,
) -> PipelineRun:
    """Run ``pipeline`` and wait for it to finish.

    Args:
        pipeline: the ``@pipeline`` to run.
        params: PipelineParameter values (strings are converted to the declared types).
        regenerate_outputs: run every step even when earlier outputs could be reused.
        executor: "local" (threads), "local-processes", or an Executor.
        max_workers: how many steps may run at once.
        continue_on_step_failure: let independent branches finish after a step fails.
        experiment: a label to group runs by (defaults to the pipeline name).
        workspace: the workspace folder or object (default ``$HEADRACE_HOME`` or ``./.headrace``).
        run_id: use this id instead of a new one (the scheduler derives ids from fire times).
        on_event: called as ``on_event(step, status, info)`` whenever a step changes status.
        tags: labels recorded with the run (the scheduler tags its runs ``schedule``).

    Returns:
        The finished :class:`PipelineRun` (Completed, Failed or Canceled).

    Raises:
        DefinitionError: the pipeline is invalid.
        ParameterError: a parameter is unknown, missing or of the wrong type, or a local path
            input does not exist or is not a regular file or folder (checked before the run).
        KeyboardInterrupt: after recording the run as Canceled.
    """
    from ..store.runs import PipelineRun

    git = GitLookup.ahead(pipeline)  # git runs while the pipeline is traced and checked
    defn = pipeline.definition
    values = defn.bind_params(params)
    check_paths(defn, values)  # a missing input file is an error now, not a step's traceback
    ws = workspace if isinstance(workspace, Workspace) else _open_workspace(workspace)
    ws.history.require_writable()  # a read-only workspace: say so before anything runs
    runner = Runner(
        defn,
        values,
        ws,
        make_executor(executor, max_workers),
        run_id or new_run_id(),
        regenerate_outputs=regenerate_outputs,
        continue_on_step_failure=continue_on_step_failure,
        experiment=experiment,
        on_event=on_event,
    )
    runner.provenance = provenance(pipeline, ws.store, git)
    runner.recorded = {"tags": dict(tags or {}), **runner.provenance.recorded}
    runner.run()
    return PipelineRun(ws, runner.run_id)


_workspaces: dict[str, Workspace] = {}
_workspaces_lock = threading.Lock()


def _open_workspace(path: str | os.PathLike[str] | None) -> Workspace:
    """One Workspace per folder per process: a loop of submits must not pile up connections."""
    from ..store.workspace import resolve_root

    key = str(resolve_root(path))
    with _workspaces_lock:
        ws = _workspaces.get(key)
        if ws is None or not (ws.root / "headrace.db").exists():
            ws = _workspaces[key] = Workspace(key)
        return ws
