"""``headrace run``: load a pipeline, run it with a live view, print a table per step."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from ..errors import HeadraceError
from .console import (
    ParamOpt,
    WorkspaceOpt,
    err,
    exit_code,
    fail,
    make_cli_executor,
    open_workspace,
    out,
    parse_params,
    print_failures,
    quiet_engine_logs,
)


def run(
    target: Annotated[str, typer.Argument(help="FILE.py[:PIPELINE]")],
    param: ParamOpt = None,
    regenerate_outputs: Annotated[
        bool, typer.Option("--regenerate-outputs", help="Run every step.")
    ] = False,
    executor: Annotated[
        str, typer.Option(help="local | local-processes | dask | prefect")
    ] = "local",
    dask_address: Annotated[
        str | None,
        typer.Option(help="Dask scheduler for --executor dask (default: a LocalCluster)."),
    ] = None,
    task_runner: Annotated[
        str, typer.Option(help="Prefect task runner for --executor prefect: threads | dask.")
    ] = "threads",
    max_workers: Annotated[int | None, typer.Option(help="Steps running at once.")] = None,
    continue_on_step_failure: Annotated[bool, typer.Option("--continue-on-step-failure")] = False,
    experiment: Annotated[str | None, typer.Option(help="Label to group runs by.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show Dask's and Prefect's INFO logs.")
    ] = False,
    run_id: Annotated[str | None, typer.Option(hidden=True, help="Use this run id.")] = None,
) -> None:
    """Run a pipeline; exit 0 only when the run Completed."""
    from rich.live import Live

    from ..definitions.loader import load_pipeline
    from ..store.runs import PipelineRun
    from .view import LiveSteps, steps_table

    params = parse_params(param)
    if not verbose:
        quiet_engine_logs()
    try:
        pipe = load_pipeline(target)
        defn = pipe.definition
        defn.bind_params(params)
        ws = open_workspace(workspace, create=True)
        chosen = make_cli_executor(
            executor,
            max_workers,
            dask_address=dask_address,
            task_runner=task_runner,
            workspace=ws.root,
        )
        view = LiveSteps(defn.name, list(defn.steps))
        show = not quiet and err.is_terminal
        live = (
            Live(view, console=err, refresh_per_second=8, transient=True) if show else nullcontext()
        )
        with live:
            result: PipelineRun = pipe.submit(
                params,
                regenerate_outputs=regenerate_outputs,
                executor=chosen,
                max_workers=max_workers,
                continue_on_step_failure=continue_on_step_failure,
                experiment=experiment,
                workspace=ws,
                on_event=view.update,
                run_id=run_id,
            )
    except KeyboardInterrupt:
        err.print("[magenta]run canceled (Ctrl-C); recorded as Canceled[/]")
        raise typer.Exit(130) from None
    except HeadraceError as exc:
        fail(str(exc))
    out.print(steps_table(result))
    print_failures(result)
    out.print(f"run id: {result.id}  workspace: {ws.root}", highlight=False)
    raise typer.Exit(exit_code(result.status))
