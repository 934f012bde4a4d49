"""``headrace dag``: a pipeline's DAG as text, Mermaid, dot or PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import HeadraceError
from .console import fail, out


def dag(
    target: Annotated[str, typer.Argument(help="FILE.py[:PIPELINE]")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="text | mermaid | dot | png")
    ] = "text",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File for png (default PIPELINE.png).")
    ] = None,
) -> None:
    """Show a pipeline's DAG."""
    from ..definitions.loader import load_pipeline
    from ..render.dag import render_dot, render_mermaid, render_png, render_text

    renderers = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}
    if format not in (*renderers, "png"):
        fail(f"--format {format!r} is not one of text, mermaid, dot, png")
    try:
        defn = load_pipeline(target).definition
    except HeadraceError as exc:
        fail(str(exc))
    if format == "png":
        path = render_png(defn, output or Path(f"{defn.name}.png"))
        out.print(f"wrote {path}")
    else:
        print(renderers[format](defn))
