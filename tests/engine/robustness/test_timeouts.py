"""Timeout clock starts at submit (queue time counts) and a hung timed-out thread blocks the run."""

import os
import tempfile
import time
from pathlib import Path

from headrace.engine import component, pipeline


@component(timeout=1.0)
def slowish(i: int) -> int:
    time.sleep(0.6)
    return i


@pipeline
def two_independent():
    a = slowish(i=1).named("a")
    b = slowish(i=2).named("b")
    return {"a": a, "b": b}


def test_queued_step_does_not_time_out(tmp_path):
    # each step takes 0.6s < its 1s timeout; with one worker, b waits 0.6s in the queue
    run = two_independent.submit(workspace=tmp_path / "ws", max_workers=1)
    assert run.status == "Completed", {k: s.error for k, s in run.steps.items()}


_MARK = Path(tempfile.gettempdir()) / f"headrace-hang-marker-{os.getpid()}"


@component(timeout=0.5, retries=1, allow_reuse=False)
def hangs_first_time() -> int:
    if not _MARK.exists():
        _MARK.write_text("x")
        time.sleep(6)  # a hung first attempt
    return 1


@pipeline
def hang_once():
    return {"x": hangs_first_time()}


def test_timed_out_attempt_does_not_block_run(tmp_path):
    _MARK.unlink(missing_ok=True)
    t0 = time.time()
    run = hang_once.submit(workspace=tmp_path / "ws")
    elapsed = time.time() - t0
    assert run.status == "Completed"
    assert elapsed < 3, f"run took {elapsed:.1f}s although the timeout is 0.5s"
