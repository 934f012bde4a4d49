"""``headrace runs list|show|explain``: recorded runs, their steps, and why each step ran."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..errors import HeadraceError, did_you_mean
from .console import WorkspaceOpt, fail, open_run, open_workspace, out, print_failures

runs_app = typer.Typer(help="Inspect recorded runs.", no_args_is_help=True)


@runs_app.command("list")
def runs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option(help="How many runs.")] = 50,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """List runs, newest first."""
    from .view import runs_table

    try:
        rows = open_workspace(workspace).history.list_runs(limit, pipeline)
    except HeadraceError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        out.print(runs_table(rows))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show a run: status, parameters, and each step's status, reuse, duration, metrics, outputs."""
    from .view import output_text, short_text, steps_table

    result = open_run(workspace, run_id)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    params = ", ".join(f"{k}={short_text(v)}" for k, v in result.params.items())
    out.print(f"pipeline {result.pipeline}  params {params or '(none)'}", highlight=False)
    out.print(steps_table(result))
    outputs = result.outputs
    if outputs:
        out.print("outputs:")
    for name, value in outputs.items():
        out.print(f"  {name}  {output_text(value)}", highlight=False)
    print_failures(result)


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
    for s in steps.values():
        if step is None or s.name == step:
            verdict = "reused" if s.reused else s.status.value.lower()
            out.print(f"{s.name}: {verdict} — {s.reason or '-'}", highlight=False)
