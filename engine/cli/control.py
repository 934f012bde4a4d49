"""``headrace runs rerun|cancel``: submit a recorded run again; cancel a run another process runs."""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from typing import Annotated, Any

import typer

from ..errors import HeadraceError
from ..status import Status
from .console import (
    ParamOpt,
    WorkspaceOpt,
    err,
    exit_code,
    fail,
    open_run,
    open_workspace,
    out,
    parse_params,
)
from .runs import runs_app

CANCEL_WAIT = 30.0
"""Seconds ``runs cancel`` waits for the run to stop, by default."""


@runs_app.command("rerun")
def runs_rerun(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    param: ParamOpt = None,
    executor: Annotated[
        str | None,
        typer.Option(help="local | local-processes | dask | prefect (default: as before)"),
    ] = None,
    regenerate_outputs: Annotated[
        bool, typer.Option("--regenerate-outputs", help="Run every step.")
    ] = False,
    workspace: WorkspaceOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view.")] = False,
) -> None:
    """Submit a run again with its parameters (--param overrides some): a failed run resumes.

    Steps whose outputs are still valid are reused, so only the failed step and what follows
    it run again.
    """
    from rich.live import Live

    from ..definitions.loader import load_pipeline
    from ..execution.executors import make_executor
    from .runs import _print_failures
    from .view import LiveSteps, steps_table

    before = open_run(workspace, run_id)
    if not before.source:
        fail(
            f"run {before.id} recorded no pipeline file (it ran under an older headrace); "
            "start it with headrace run FILE.py:PIPELINE --param ..."
        )
    params: dict[str, Any] = {**before.params, **parse_params(param)}
    ws = open_workspace(workspace)
    try:
        pipe = load_pipeline(before.source)
        chosen = make_executor(executor or before.executor or "local")
        view = LiveSteps(pipe.definition.name, list(pipe.definition.steps))
        show = not quiet and err.is_terminal
        live = Live(view, console=err, transient=True) if show else nullcontext()
        with live:
            result = pipe.submit(
                params,
                executor=chosen,
                regenerate_outputs=regenerate_outputs,
                workspace=ws,
                on_event=view.update,
                tags={"rerun_of": before.id},
            )
    except KeyboardInterrupt:
        err.print("[magenta]run canceled (Ctrl-C); recorded as Canceled[/]")
        raise typer.Exit(130) from None
    except HeadraceError as exc:
        fail(f"runs rerun {before.id}: {exc}")
    out.print(steps_table(result))
    _print_failures(result)
    out.print(f"run id: {result.id} (rerun of {before.id})  workspace: {ws.root}", highlight=False)
    raise typer.Exit(exit_code(result.status))


@runs_app.command("cancel")
def runs_cancel(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for it to stop (0: do not wait).")
    ] = CANCEL_WAIT,
    workspace: WorkspaceOpt = None,
) -> None:
    """Cancel a running run, whichever process runs it (a daemon's, another terminal's)."""
    run = open_run(workspace, run_id)
    if Status(run.status).is_final:
        fail(f"run {run.id} already ended {run.status}; there is nothing to cancel", code=1)
    why = f"canceled with `headrace runs cancel` (from process {os.getpid()})"
    history = run.workspace.history
    if not history.request_cancel(run.id, why):
        run.refresh()
        fail(f"run {run.id} already ended {run.status}; there is nothing to cancel", code=1)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        history.reap_dead_runs()
        status = history.run_status(run.id)
        if status is not None and status.is_final:
            out.print(f"run {run.id}: {status.value}", highlight=False)
            return
        time.sleep(0.2)
    if wait > 0:
        fail(
            f"asked run {run.id} to cancel, but after {wait:g} s it still runs: its runner "
            "cancels at its next look (every 0.5 s) but waits for steps running in threads; "
            f"check with headrace runs show {run.id}",
            code=1,
        )
    out.print(f"asked run {run.id} to cancel", highlight=False)
