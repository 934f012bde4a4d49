"""Process-pool workers never inherit a lock another thread of the run's process holds.

Forked workers copied the run's memory at the instant of the fork, the locks its other threads
held included (SQLite's, a stream's, a library's). A worker that needed one waited forever: a
local-processes test once hung in CI for its whole 300 s timeout. Workers now come from a
fork server.
"""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest

from headrace.engine import Status, Workspace, component, pipeline
from headrace.engine.execution.executors import make_executor


@pytest.fixture
def locked_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An importable module whose lock a thread of this process holds throughout the test."""
    (tmp_path / "lockmod_hr.py").write_text(
        textwrap.dedent(
            """
            import threading

            LOCK = threading.Lock()

            def guarded(x):
                with LOCK:
                    return x * 2
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import lockmod_hr

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lockmod_hr.LOCK:
            held.set()
            release.wait()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    held.wait()
    yield lockmod_hr
    release.set()
    thread.join()
    sys.modules.pop("lockmod_hr", None)


def test_a_worker_does_not_inherit_a_held_lock(ws: Workspace, locked_module) -> None:
    guarded = locked_module.guarded

    @component(timeout=30)
    def double(x: int) -> int:
        return guarded(x)

    @pipeline(name="fork-locks")
    def flow(x: int = 21):
        return {"y": double(x=x)}

    run = flow.submit(workspace=ws, executor=make_executor("local-processes"))
    assert run.status == Status.COMPLETED, run.steps["double"].error
    assert run.outputs["y"].load() == 42
