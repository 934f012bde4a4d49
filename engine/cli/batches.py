"""``headrace runs batches RUN STEP``: every mini-batch of a parallel-run step, as a table."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import did_you_mean
from .as_json import dumps
from .console import WorkspaceOpt, fail, open_run, out
from .runs import runs_app

ERROR_WIDTH = 80
"""Characters of each mini-batch's error the table shows (``--json`` has all of it)."""


@runs_app.command("batches")
def runs_batches(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    step: Annotated[str, typer.Argument(help="The parallel-run step.")],
    failed: Annotated[
        bool, typer.Option("--failed", help="Only mini-batches with failed items.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List a parallel-run step's mini-batches: items, status, attempts, duration, worker,
    error, and whether a committed result was reused."""
    run = open_run(workspace, run_id)
    if step not in run.steps:
        fail(
            f"run {run.id} has no step {step!r}.{did_you_mean(step, run.steps)} "
            f"Steps: {', '.join(run.steps)}"
        )
    rows = run.steps[step].batches
    if not rows:
        fail(
            f"step {step!r} of run {run.id} kept no mini-batch report: it is not a "
            "parallel-run step, or it never started"
        )
    if failed:  # not the ones a failing step never started
        rows = [r for r in rows if _failed(r)]
    if as_json:
        print(dumps(rows))
        return
    out.print(_table(rows))
    total = len(run.steps[step].batches)
    bad = sum(1 for r in run.steps[step].batches if _failed(r))
    reused = sum(1 for r in run.steps[step].batches if r["reused"])
    out.print(f"{total} mini-batches, {bad} failed, {reused} reused", highlight=False)


def _failed(row: dict) -> bool:
    """A mini-batch that failed, or whose run() gave no result for some of its items."""
    return bool(row["items_failed"]) or row["status"] == "Failed"


def _table(rows: list[dict]) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (
        ("id", "right"),
        ("items", "right"),
        ("failed", "right"),
        ("status", "left"),
        ("attempts", "right"),
        ("duration", "right"),
        ("worker", "left"),
        ("reused", "left"),
        ("error", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        error = r["error"] or ""
        if len(error) > ERROR_WIDTH:
            error = error[: ERROR_WIDTH - 1] + "…"
        table.add_row(
            str(r["id"]),
            str(r["items"]),
            str(r["items_failed"]),
            escape(r["status"]),
            str(r["attempts"]),
            f"{r['duration']:.2f}s",
            escape(r["worker"] or ""),
            "yes" if r["reused"] else "",
            escape(error),
        )
    return table
