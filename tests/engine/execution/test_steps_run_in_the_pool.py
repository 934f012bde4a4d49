"""Steps run in the executor's pool, never in the thread that called ``submit()``.

A step run in the caller's thread (as a quick lone step once was, to save the hand-off)
could hide a cancel until it returned, swallow Ctrl-C in its own ``except:``, leave its
context variables, decimal context and signal handlers in the caller, and move a chain
between threads on ``max_workers=1``. Each test pins one of these; the components are
quick for a reason: a quick chain is what such a shortcut would pick.
"""

from __future__ import annotations

import contextvars
import decimal
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from headrace.engine import component, pipeline

USER_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("review_user_var", default="unset")


@component
def nap(x: int, secs: float = 0.0) -> int:
    time.sleep(secs)
    return x + 1


@pipeline
def nap_chain(secs: float = 10.0):
    return {"out": nap(x=nap(x=nap(x=0)), secs=secs)}  # two quick calls, then a slow one


def test_a_cancel_from_another_process_stops_the_run_while_a_step_runs(ws) -> None:
    """The runner sees the cancel within CANCEL_POLL and abandons the step's thread."""
    db = ws.root / "headrace.db"
    asked: dict[str, float] = {}

    def cancel_when_the_slow_step_runs() -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.05)
            try:
                with sqlite3.connect(db) as c:
                    row = c.execute(
                        "SELECT run_id, status FROM step_runs WHERE step='nap_3'"
                    ).fetchone()
            except sqlite3.OperationalError:
                continue
            if row and row[1] == "Running":
                cmd = [sys.executable, "-m", "headrace.engine.cli", "runs", "cancel", row[0]]
                subprocess.run([*cmd, "-w", str(ws.root), "--wait", "0"], check=True)
                asked["at"] = time.monotonic()
                return

    helper = threading.Thread(target=cancel_when_the_slow_step_runs, daemon=True)
    helper.start()
    run = nap_chain.submit(params={"secs": 10.0}, workspace=ws)
    ended = time.monotonic()
    helper.join(5)
    assert "at" in asked
    assert run.status == "Canceled"
    assert ended - asked["at"] < 5, "the run waited for the step to end"
    assert run.steps["nap_3"].status == "Canceled"


SWALLOWS = """
import time
from headrace.engine import component, pipeline

@component
def poll(x: int, secs: float = 0.0) -> int:
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            time.sleep(0.05)
        except:  # noqa: E722 -- everyday user code: retry whatever went wrong
            pass
    return x + 1

@pipeline
def polls():
    return {"out": poll(x=poll(x=poll(x=0)), secs=30.0)}
"""


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_even_when_the_step_catches_everything(tmp_path: Path) -> None:
    """Ctrl-C reaches the runner's wait, never the user's ``except:`` (the scheduler's
    launcher turns SIGTERM into the same interrupt and ignores later signals)."""
    file = tmp_path / "polls.py"
    file.write_text(textwrap.dedent(SWALLOWS))
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(file), "-w", str(ws)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = ws / "headrace.db"
    deadline = time.time() + 60
    row = None
    while time.time() < deadline and not (row and row[0] == "Running"):
        time.sleep(0.1)
        try:
            with sqlite3.connect(db) as c:
                row = c.execute("SELECT status FROM step_runs WHERE step='poll_3'").fetchone()
        except sqlite3.OperationalError:
            row = None
    assert row and row[0] == "Running", proc.stderr
    time.sleep(0.3)
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15, "the step swallowed Ctrl-C and the run went on"
    assert proc.returncode == 130, err
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM runs").fetchone()[0] == "Canceled"


@component
def sets_state(x: int) -> int:
    USER_VAR.set(f"set by the step for x={x}")  # a library's request or tenant context
    decimal.getcontext().prec = 3  # a step's own arithmetic precision
    return x + 1


@pipeline
def state_chain():
    return {"out": sets_state(x=sets_state(x=sets_state(x=0)))}


def test_a_step_leaves_no_context_variable_or_decimal_context_in_the_caller(ws) -> None:
    before = decimal.getcontext().prec
    try:
        run = state_chain.submit(workspace=ws)
        assert run.status == "Completed"
        assert USER_VAR.get() == "unset"
        assert decimal.getcontext().prec == before
    finally:
        decimal.getcontext().prec = before
        USER_VAR.set("unset")


def _library_handler(signum: int, frame: object) -> None:
    """What a library installs at its init: it will shut down 'gracefully' later."""


@component
def installs_handler(x: int) -> int:
    if threading.current_thread() is threading.main_thread():  # as wandb, ray, lightning do
        signal.signal(signal.SIGINT, _library_handler)
    return x + 1


@pipeline
def handler_chain():
    return {"out": installs_handler(x=installs_handler(x=installs_handler(x=0)))}


def test_a_step_cannot_replace_the_processs_ctrl_c_handler(ws) -> None:
    before = signal.getsignal(signal.SIGINT)
    try:
        assert handler_chain.submit(workspace=ws).status == "Completed"
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGINT, before)


_conn: sqlite3.Connection | None = None


@component
def lookup(x: int) -> int:
    """A lazily opened module-level connection (SQLite's default: this thread only)."""
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(":memory:")
    _conn.execute("SELECT ?", (x,)).fetchone()
    return x + 1


@pipeline
def lookup_chain():
    return {"out": lookup(x=lookup(x=lookup(x=0)))}


def test_one_worker_runs_a_chain_on_one_thread(ws) -> None:
    """With ``max_workers=1`` every step runs on the pool's one thread."""
    global _conn
    _conn = None
    run = lookup_chain.submit(workspace=ws, max_workers=1)
    assert run.status == "Completed", {n: s.error for n, s in run.steps.items()}
