"""A lone quick step runs in the runner's own thread; everything else still runs in the pool."""

from __future__ import annotations

import asyncio
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
from headrace.engine.execution import runner
from headrace.engine.execution.executors.local import LocalExecutor

THREADS: list[str] = []


def _here() -> None:
    THREADS.append(threading.current_thread().name)


@component
def quick(x: int) -> int:
    _here()
    print(f"quick saw {x}")
    return x + 1


@component
def slowish(x: int) -> int:
    _here()
    time.sleep(0.05)
    return x + 1


@component(timeout=30)
def timed(x: int) -> int:
    _here()
    return x + 1


@component
def exits(x: int) -> int:
    _here()
    if x >= 2:
        raise SystemExit(f"exit at {x}")
    return x + 1


@component
def uses_asyncio(x: int) -> int:
    _here()

    async def twice() -> int:
        await asyncio.sleep(0)
        return x + 1

    return asyncio.run(twice())


@pipeline
def quick_chain(x: int = 0):
    return {"out": quick(x=quick(x=quick(x=quick(x=x))))}


@pipeline
def slow_chain(x: int = 0):
    return {"out": slowish(x=slowish(x=slowish(x=x)))}


@pipeline
def timed_chain(x: int = 0):
    return {"out": timed(x=timed(x=timed(x=x)))}


@pipeline
def exit_chain(x: int = 0):
    return {"out": exits(x=exits(x=exits(x=x)))}


@pipeline
def asyncio_chain(x: int = 0):
    return {"out": uses_asyncio(x=uses_asyncio(x=uses_asyncio(x=x)))}


@pipeline
def side_by_side(x: int = 0, y: int = 10):
    return {"a": quick(x=quick(x=x)), "b": quick(x=quick(x=y))}


@pytest.fixture(autouse=True)
def _fresh_threads() -> None:
    THREADS.clear()


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step counts as quick, so a loaded machine cannot move one back to the pool."""
    monkeypatch.setattr(runner, "INLINE_UNDER", 30.0)


def test_a_lone_quick_step_runs_in_the_runner_after_its_first_call_in_the_pool(ws, lenient) -> None:
    run = quick_chain.submit(params={"x": 0}, workspace=ws)
    assert run.status == "Completed"
    assert run.outputs["out"].load() == 4
    me = threading.current_thread().name
    assert THREADS[0] != me  # the first call of a component: nothing known, so the pool
    assert THREADS[1:] == [me] * 3
    logs = [run.steps[s].logs for s in ("quick", "quick_2", "quick_3", "quick_4")]
    assert [line.strip() for line in logs] == [f"quick saw {x}" for x in range(4)]


def test_a_slow_component_stays_in_the_pool(ws) -> None:
    """At the real threshold: a 50 ms step is never quick."""
    assert slow_chain.submit(workspace=ws).status == "Completed"
    assert len(THREADS) == 3 and threading.current_thread().name not in THREADS


def test_a_component_with_a_timeout_never_runs_inline(ws, lenient) -> None:
    """Its timeout is enforced from the runner's thread, so its steps stay in the pool."""
    assert timed_chain.submit(workspace=ws).status == "Completed"
    assert len(THREADS) == 3 and threading.current_thread().name not in THREADS


def test_steps_that_can_run_side_by_side_stay_in_the_pool(ws, lenient) -> None:
    run = side_by_side.submit(workspace=ws, max_workers=2)
    assert run.status == "Completed"
    assert run.outputs["a"].load() == 2 and run.outputs["b"].load() == 12
    assert threading.current_thread().name not in THREADS[:2]  # the two first ones, together


def test_system_exit_in_an_inline_step_fails_that_step_like_in_the_pool(ws, lenient) -> None:
    run = exit_chain.submit(workspace=ws)
    assert threading.current_thread().name in THREADS  # the third call ran inline
    assert run.status == "Failed"
    assert run.steps["exits_3"].status == "Failed"
    assert "exit at 2" in (run.steps["exits_3"].error or "")
    assert run.steps["exits_2"].status == "Completed"


def test_asyncio_run_inside_an_inline_step_works(ws, lenient) -> None:
    run = asyncio_chain.submit(workspace=ws)
    assert run.status == "Completed" and run.outputs["out"].load() == 3
    assert threading.current_thread().name in THREADS


def test_nothing_runs_inline_under_a_running_event_loop(ws, lenient) -> None:
    async def main() -> str:
        return quick_chain.submit(workspace=ws).status

    assert asyncio.run(main()) == "Completed"
    assert threading.current_thread().name not in THREADS


def test_only_the_thread_pool_runs_in_process() -> None:
    assert LocalExecutor().in_process
    assert not LocalExecutor(processes=True).in_process


PIPELINE = """
import time
from headrace.engine import component, pipeline

@component
def tick(x: int, nap: float = 0.0) -> int:
    time.sleep(nap)
    return x + 1

@pipeline
def ticks():
    return {"out": tick(x=tick(x=tick(x=0)), nap=60.0)}
"""


@pytest.mark.slow
def test_ctrl_c_reaches_an_inline_step_and_records_the_run_canceled(tmp_path: Path) -> None:
    """``tick`` was quick twice, so its third (slow) call runs in the main thread: Ctrl-C
    interrupts the step itself, and the run and the step are recorded as Canceled."""
    file = tmp_path / "ticks.py"
    file.write_text(textwrap.dedent(PIPELINE))
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
                row = c.execute("SELECT status FROM step_runs WHERE step='tick_3'").fetchone()
        except sqlite3.OperationalError:  # not created yet
            row = None
    assert row and row[0] == "Running", proc.stderr
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 20  # not after the step's 60 s nap
    assert proc.returncode == 130, err
    assert "recorded as Canceled" in err
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM runs").fetchone()[0] == "Canceled"
        steps = dict(c.execute("SELECT step, status FROM step_runs").fetchall())
    assert steps == {"tick": "Completed", "tick_2": "Completed", "tick_3": "Canceled"}
