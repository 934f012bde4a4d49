"""``headrace verify [--repair]``: re-hash the artifact store and report what is damaged."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from ..errors import HeadraceError
from .console import WorkspaceOpt, err, fail, open_workspace, out


def verify(
    repair: Annotated[
        bool, typer.Option("--repair", help="Delete damaged copies; their steps re-run.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Re-hash every stored artifact; exit 1 when a damaged one is found and not repaired.

    A damaged copy is never reused or loaded (headrace checks content before it trusts an
    artifact); --repair removes it so the next run stores a good one in its place.
    """
    from ..store.verify import verify_store

    ws = open_workspace(workspace)
    total = ws.history.query("SELECT COUNT(*) AS n FROM artifacts")[0]["n"]
    try:
        with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("hashing artifacts", total=total)
            report = verify_store(ws, repair, lambda n: bar.advance(task, n))
    except HeadraceError as exc:
        fail(str(exc))
    for record in report.damaged:
        verb = "removed" if record in report.removed else "DAMAGED"
        out.print(f"{verb}: {record.fingerprint[:12]} {record.fmt} {record.uri}", highlight=False)
    out.print(
        f"{report.checked} artifacts checked: {len(report.damaged)} damaged"
        + (f" ({len(report.removed)} removed)" if repair else "")
        + f", {len(report.missing)} missing",
        highlight=False,
    )
    raise typer.Exit(1 if report.damaged and not repair else 0)
