"""The ``headrace`` command: run pipelines, inspect runs, look at DAGs; plugins add the rest."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ..errors import DefinitionError
from .console import err
from .dag import dag
from .gc import gc
from .run import run
from .runs import runs_app
from .ui import ui
from .verify import verify

app = typer.Typer(
    help="headrace: typed ML pipelines with content-hash step reuse, on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.add_typer(runs_app, name="runs")
app.command()(gc)
app.command()(dag)
app.command("ui")(ui)
app.command()(verify)


def _add_plugins() -> None:
    """Add commands other headrace packages register under the ``headrace.cli`` entry points.

    The scheduler contributes ``schedule`` and ``daemon`` this way, so the engine never
    imports it (DESIGN §1).
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group="headrace.cli"):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            err.print(
                f"[yellow]warning:[/] command {escape(repr(ep.name))} unavailable: {escape(str(exc))}"
            )
            continue
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        else:
            app.command(ep.name)(obj)


def main() -> None:
    """Console-script entry point."""
    _add_plugins()
    try:
        app()
    except DefinitionError as exc:  # pragma: no cover - raised outside a command's handler
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
