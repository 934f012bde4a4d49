"""``headrace dag``: a pipeline's DAG as text, Mermaid, dot or PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import HeadraceError
from .console import WorkspaceOpt, fail, find_workspace, out


def dag(
    target: Annotated[str, typer.Argument(help="FILE.py[:PIPELINE]")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="text | mermaid | dot | png")
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "--output",
            "-o",
            help="File for png (default WORKSPACE/dags/PIPELINE.png, never the current folder).",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show a pipeline's DAG."""
    from ..definitions.loader import load_pipeline
    from ..render.dag import render_dot, render_mermaid, render_png, render_text

    renderers = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}
    if format not in (*renderers, "png"):
        fail(f"--format {format!r} is not one of text, mermaid, dot, png")
    if output is not None and format != "png":
        fail(f"--out goes with --format png (--format {format} prints to stdout)")
    try:
        defn = load_pipeline(target).definition
    except HeadraceError as exc:
        fail(str(exc))
    if format != "png":
        print(renderers[format](defn))
        return
    path = output or find_workspace(workspace)[0] / "dags" / f"{_file_name(defn.name)}.png"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        render_png(defn, path)
    except OSError as exc:
        fail(f"cannot write {path} ({exc.strerror or exc}); give a writable file with --out")
    out.print(f"wrote {path}", highlight=False)


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "pipeline"
