"""Resume: SIGKILL `headrace run` mid-job; the re-run scores only what has no committed result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace
from tests.engine.parallel.pipelines import calls, write_files

PIPE = Path(__file__).parent / "pipeline_files" / "slow_pipe.py"


@pytest.mark.slow
def test_sigkill_mid_job_then_rerun_scores_only_unfinished_batches(tmp_path: Path) -> None:
    folder, counter, root = tmp_path / "in", tmp_path / "counter", tmp_path / "ws"
    names = [f"f{i:02d}" for i in range(40)]  # 20 mini-batches of 2, 0.25 s each, 2 workers
    write_files(folder, names)
    cmd = [
        sys.executable,
        "-m",
        "headrace.engine.cli",
        "run",
        str(PIPE),
        "-q",
        "--workspace",
        str(root),
        "--param",
        f"folder={folder}",
        "--param",
        f"counter={counter}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(calls(counter)) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)  # the workers die with it: no marker appears after this
    first = len(calls(counter))
    assert 8 <= first < 20
    time.sleep(1.0)
    assert len(calls(counter)) == first
    committed = len(
        [
            p
            for p in root.rglob("*.parquet")
            if p.parent.parent.name == "parallel" and p.name != "index.parquet"
        ]
    )
    assert committed >= 8 - 2  # at most one in flight per worker was lost

    for p in counter.glob("*"):
        p.unlink()
    from tests.engine.parallel.pipeline_files.slow_pipe import slow_files

    ws = Workspace(root)
    run = slow_files.submit(params={"folder": str(folder), "counter": str(counter)}, workspace=ws)
    results = run.raise_for_status().outputs["results"].load()
    assert results["file"].tolist() == names  # complete, ordered, no duplicates
    assert len(calls(counter)) == 20 - committed
    assert run.steps["slow"].metrics["mini_batches_reused"] == committed
    ws.close()


@pytest.mark.slow
def test_mini_batches_another_run_commits_mid_step_are_in_the_results(tmp_path: Path) -> None:
    """Run A plans, then waits in its first mini-batch while run B scores and commits all
    of them: A's workers find the rest committed, and A's table still holds every file."""
    folder, counter, root = tmp_path / "in", tmp_path / "counter", tmp_path / "ws"
    names = ["gate_00", *(f"t_{i:02d}" for i in range(1, 10))]  # gate_*: see behave.py
    write_files(folder, names)
    counter.mkdir()
    (counter / "gate").touch()
    race = Path(__file__).parent / "pipeline_files" / "race_pipe.py"
    cmd = [
        *(sys.executable, "-m", "headrace.engine.cli", "run", str(race), "-q"),
        *("--workspace", str(root), "--param", f"folder={folder}"),
        *("--param", f"counter={counter}"),
    ]
    a = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (counter / "gate.taken").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # A is held in its first mini-batch
    assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0  # B, whole
    (counter / "release").touch()
    assert a.wait(timeout=120) == 0
    with Workspace(root) as ws:
        runs = ws.runs()
        assert len(runs) == 2
        found = sorted(r.steps["race"].metrics["mini_batches_reused"] for r in runs)
        assert found == [0, 4]  # B scored all 5; A found 4 of them committed mid-step
        for run in runs:
            assert run.outputs["results"].load()["file"].tolist() == names
