"""``headrace gc``: forget old runs and delete the artifacts nothing kept refers to."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import HeadraceError
from .console import WorkspaceOpt, fail, open_workspace, out


def gc(
    keep_last: Annotated[int | None, typer.Option(min=0, help="Keep the N newest runs.")] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Forget runs older than this (30d, 12h).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete artifacts no kept run or cache entry refers to, and report the bytes freed."""
    from ..store.gc import collect, parse_age

    try:
        age = parse_age(older_than) if older_than is not None else None
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    try:
        report = collect(open_workspace(workspace), keep_last, age, dry_run)
    except HeadraceError as exc:
        fail(str(exc))
    verb = "would free" if dry_run else "freed"
    out.print(
        f"{len(report.runs)} runs forgotten, {len(report.artifacts)} artifacts and "
        f"{len(report.staging)} stale staging entries deleted; {verb} {report.bytes_freed:,} bytes"
        + (" (dry run: nothing changed)" if dry_run else ""),
        highlight=False,
    )
