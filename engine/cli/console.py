"""The CLI's console: one stdout/stderr pair, ``fail()``, the shared options and argument parsers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import HeadraceError
from ..status import Status

if TYPE_CHECKING:
    from ..store.runs import PipelineRun
    from ..store.workspace import Workspace

# Piped output (logs, CI, tests) gets a wide console so tables and paths are not folded.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default $HEADRACE_HOME or ./.headrace)."
    ),
]

ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
]
"""Repeated ``--param NAME=VALUE`` options; read them with ``parse_params``."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-paragraph error and exit with ``code``.

    The message is printed as it is: brackets in it (``dict[str, int]``, ``Annotated[...]``)
    are escaped, never read as Rich markup.
    """
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def canceled() -> NoReturn:
    """Report a run stopped with Ctrl-C (the runner recorded it Canceled) and exit 130."""
    err.print("[magenta]run canceled (Ctrl-C); recorded as Canceled[/]")
    raise typer.Exit(130) from None


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--param k=v`` options (a malformed one is a one-line error)."""
    params: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--param {item!r} is not NAME=VALUE; write it like --param reg_rate=0.1")
        params[key.strip()] = value
    return params


def open_workspace(path: Path | None) -> Workspace:
    """The workspace at ``path`` (or the default), with runs of dead processes reaped."""
    from ..store.workspace import Workspace

    try:
        ws = Workspace(path)
        ws.history.reap_dead_runs()
    except HeadraceError as exc:
        fail(str(exc))
    return ws


def open_run(path: Path | None, run_id: str) -> PipelineRun:
    """The PipelineRun ``run_id`` (a unique prefix) of the workspace, or a one-line error."""
    from ..store.runs import PipelineRun

    try:
        return PipelineRun(open_workspace(path), run_id)
    except HeadraceError as exc:
        fail(str(exc))


def print_failures(result: PipelineRun) -> None:
    """Print each failed step's traceback (as plain text) to stderr."""
    for s in result.steps.values():
        if s.status == Status.FAILED:
            err.print(
                f"[bold red]step {escape(repr(s.name))} failed[/] (component {escape(s.component)}):"
            )
            err.print(s.traceback or s.error, highlight=False, markup=False)
