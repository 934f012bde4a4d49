"""The ``headrace`` command: run pipelines, inspect runs, look at DAGs; plugins add the rest."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from ..errors import DefinitionError
from . import batches, compare, control, logs, outputs  # noqa: F401  (they add commands to `runs`)
from .console import err
from .dag import dag
from .gc import gc
from .metrics import metrics
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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"headrace {version('headrace')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """headrace: typed ML pipelines with content-hash step reuse, on your machine."""


app.command()(run)
app.add_typer(runs_app, name="runs")
app.command()(metrics)
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


def _plain_help(command: Any) -> None:
    """Leave type tags (``<bool>``, ``<list[str]>``) out of every command's help.

    A flag shows nothing; an option taking a value shows an upper-case placeholder
    (``--param NAME=VALUE``, ``--workspace PATH``), as git and pip do.
    """
    for param in command.params:
        kind = getattr(param, "param_type_name", "")
        if kind == "option" and param.metavar is None:
            param.metavar = "" if param.is_flag else _placeholder(param)
        elif kind == "argument":  # its name (TARGET) says it; typer would add <str>
            param.display_type_rich = lambda ctx: None
    help_option = command.get_help_option

    def plain_help_option(ctx: Any) -> Any:
        option = help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = plain_help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _placeholder(param: Any) -> str:
    if param.name == "param":
        return "NAME=VALUE"
    kind = param.bare_type() if hasattr(param, "bare_type") else ""
    if param.name == "workspace" or "Path" in kind:
        return "PATH"
    return {"int": "N", "float": "NUMBER"}.get(kind, "TEXT")


def main() -> None:
    """Console-script entry point."""
    _add_plugins()
    command = typer.main.get_command(app)
    _plain_help(command)
    try:
        command()
    except DefinitionError as exc:  # pragma: no cover - raised outside a command's handler
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
