"""``headrace runs logs RUN [STEP] [--attempt N] [--follow]``: what steps printed and logged."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from ..errors import did_you_mean
from ..status import Status
from ..store.runs import PipelineRun, StepRun
from ..store.spools import read_spool, spooled_attempts
from .console import WorkspaceOpt, fail, open_run
from .runs import runs_app

FOLLOW_POLL = 0.3
"""Seconds between looks for new output with ``--follow``."""


@runs_app.command("logs")
def runs_logs(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", help="Only this attempt (1 = the first try).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output until the run ends.")
    ] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print the stdout, stderr and logging records of a run's step attempts."""
    run = open_run(workspace, run_id)
    if step is not None and step not in run.steps:
        fail(
            f"run {run.id} has no step {step!r}.{did_you_mean(step, run.steps)} "
            f"Steps: {', '.join(run.steps)}"
        )
    if attempt is not None and step is None:
        fail("--attempt needs a STEP: write headrace runs logs RUN STEP --attempt N")
    if follow:
        _follow(run, step)
        return
    steps = [run.steps[step]] if step is not None else list(run.steps.values())
    if not steps:  # recorded by the scheduler: the attempt never started
        _write(f"run {run.id} ran no step: {run.error or run.status}\n")
    for s in steps:
        _print_step(run, s, attempt, headers=step is None or attempt is None)


def _print_step(run: PipelineRun, s: StepRun, attempt: int | None, headers: bool) -> None:
    tries = {a.number: a for a in s.attempt_history}
    live = {n: text for n, text in _texts(run, s) if n not in tries}
    numbers = sorted({*tries, *live})
    if attempt is not None:
        if attempt not in numbers:
            known = ", ".join(map(str, numbers)) or "none recorded"
            fail(f"step {s.name!r} of run {run.id} has no attempt {attempt} (attempts: {known})")
        numbers = [attempt]
    if not numbers:
        _header(headers, f"{s.name}: {_no_logs(s)}")
    for n in numbers:
        a = tries.get(n)
        if a is None:
            state = "running" if s.status == Status.RUNNING else "interrupted"
            _header(headers, f"{s.name} (attempt {n}, {state})")
            _write(live[n])
            continue
        canceled = (a.error or "").startswith(f"{Status.CANCELED.value}:")
        how = "Completed" if a.ok else a.error if canceled else f"Failed: {a.error}"
        cut = f", cut to {len(a.logs):,} of {a.log_chars:,} characters" if a.truncated else ""
        _header(headers, f"{s.name} (attempt {n}, {how}{cut})")
        _write(a.logs if a.logs else "(no output)\n")


def _no_logs(s: StepRun) -> str:
    if s.reused:
        return f"reused from run {s.reused_from}, nothing ran here (its logs: headrace runs logs {s.reused_from} {s.name})"
    if s.status in (Status.SKIPPED, Status.NOT_STARTED, Status.CANCELED):
        return f"{s.status.value.lower()}, never ran"
    return "no output recorded"


def _header(show: bool, text: str) -> None:
    if show:
        _write(f"── {text} ──\n")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _follow(run: PipelineRun, only: str | None) -> None:
    """Print output as it comes, prefixed with its step when several steps are followed."""
    shown: dict[tuple[str, int], int] = {}  # (step, attempt) → characters printed
    while True:
        run.refresh()
        ended = Status(run.status).is_final
        for s in run.steps.values():
            if only is not None and s.name != only:
                continue
            for number, text in _texts(run, s):
                done = shown.get((s.name, number), 0)
                new = text[done:]
                if not new:
                    continue
                complete = new if ended else new[: new.rfind("\n") + 1]
                if complete:
                    prefix = "" if only is not None else f"[{s.name}] "
                    lines = complete.rstrip("\n").split("\n")
                    _write("".join(f"{prefix}{line}\n" for line in lines))
                    shown[(s.name, number)] = done + len(complete)
        if ended:
            return
        time.sleep(FOLLOW_POLL)


def _texts(run: PipelineRun, s: StepRun) -> list[tuple[int, str]]:
    """(attempt, output so far) of a step: recorded attempts, then the one spooling now."""
    out = [(a.number, a.logs) for a in s.attempt_history]
    recorded = {n for n, _ in out}
    for n in spooled_attempts(run.workspace.root, run.id, s.name):
        live = read_spool(run.workspace.root, run.id, s.name, n)
        if n not in recorded and live is not None:
            out.append((n, live))
    return sorted(out)
