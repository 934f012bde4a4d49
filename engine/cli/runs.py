"""``headrace runs list|show|explain``: recorded runs, their steps, and why each step ran.

The ``runs`` group is ``runs_app``; other modules (logs, outputs, compare, control) add their
commands to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import HeadraceError, did_you_mean
from ..status import Status
from .as_json import dumps
from .console import WorkspaceOpt, err, fail, open_run, open_workspace, out

if TYPE_CHECKING:
    from ..store.runs import PipelineRun

runs_app = typer.Typer(help="Inspect recorded runs.", no_args_is_help=True)

FAILED_LOG_LINES = 20
"""How many of a failed step's last log lines ``runs show`` prints beside its traceback."""


@runs_app.command("list")
def runs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many runs.")] = 50,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status: Completed, Failed, ...")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs since then: 2h, 7d, 2026-12-01, ...")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="Only runs this schedule started.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """List runs, newest first, with why each one that did not complete stopped."""
    from ..store.since import since_time
    from ..store.workspace import parse_status
    from .view import runs_table

    try:
        rows = open_workspace(workspace).history.list_runs(
            limit,
            pipeline,
            status=parse_status(status, "--status") if status is not None else None,
            since=since_time(since, "--since") if since is not None else None,
            schedule=schedule,
        )
    except HeadraceError as exc:
        fail(str(exc))
    if as_json:
        print(dumps(rows))
    else:
        out.print(runs_table(rows))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show a run: parameters, code, each step's status, reuse, attempts, metrics, and outputs."""
    from .view import (
        attempt_lines,
        code_text,
        metric_text,
        output_text,
        short_text,
        steps_table,
    )

    result = open_run(workspace, run_id)
    if as_json:
        print(dumps(result.to_dict()))
        return
    params = ", ".join(f"{k}={short_text(v)}" for k, v in result.params.items())
    out.print(f"pipeline {result.pipeline}  params {params or '(none)'}", highlight=False)
    out.print(f"code {code_text(result.code)}", highlight=False)
    if result.tags:
        tags = ", ".join(f"{k} {v}" for k, v in result.tags.items())
        out.print(f"tags {tags}", highlight=False, markup=False)
    if result.error:  # why the run as a whole stopped (a firing that never started, ...)
        out.print(f"error {result.error}", style="red", highlight=False, markup=False)
    if result.steps:
        out.print(steps_table(result))
    else:
        head = f"run {result.id} — {result.pipeline}: {result.status}; no step ran"
        out.print(head, highlight=False, markup=False)
    attempts = attempt_lines(result)
    if attempts:
        out.print("attempts:")
        for line in attempts:
            out.print(line, highlight=False, markup=False)
    series = [
        (s.name, k, v)
        for s in result.steps.values()
        for k, v in s.metrics.items()
        if isinstance(v, list)
    ]
    if series:
        out.print("metric series:")
        for step, name, values in series:
            shown = ", ".join(metric_text(v) for v in values)
            out.print(f"  {step}.{name} ({len(values)} values)  {shown}", highlight=False)
    outputs = result.outputs
    if outputs:
        out.print(f"outputs:  (as files: headrace runs download {result.id} NAME --to DIR)")
    for name, value in outputs.items():
        out.print(f"  {name}  {output_text(value)}", highlight=False, markup=False)
    _print_failures(result)


def _print_failures(result: PipelineRun) -> None:
    """Each failed step's traceback, with the last lines of its log, to stderr."""
    from rich.markup import escape

    from .view import log_tail

    for s in result.steps.values():
        if s.status != Status.FAILED:
            continue
        err.print(
            f"[bold red]step {escape(repr(s.name))} failed[/] (component {escape(s.component)}):"
        )
        err.print(s.traceback or s.error, highlight=False, markup=False)
        logs = s.logs
        if logs:
            n = FAILED_LOG_LINES
            err.print(
                f"last {n} lines of its log (all of it: headrace runs logs {result.id} {s.name}):",
                highlight=False,
                markup=False,
            )
            err.print(log_tail(logs, n), highlight=False, markup=False)


@runs_app.command("explain")
def runs_explain(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Say why each step ran or was reused (code, parameter, input or upstream changes)."""

    result = open_run(workspace, run_id)
    steps = result.steps
    if step is not None and step not in steps:
        fail(
            f"run {result.id} has no step {step!r}.{did_you_mean(step, steps)} Steps: {', '.join(steps)}"
        )
    if not steps:  # recorded by the scheduler: the attempt never started
        out.print(f"run {result.id} ran no step: {result.error or result.status}", highlight=False)
    for s in steps.values():
        if step is None or s.name == step:
            verdict = "reused" if s.reused else s.status.value.lower()
            out.print(f"{s.name}: {verdict} — {s.reason or '-'}", highlight=False)
