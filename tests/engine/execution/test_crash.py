"""Crash and concurrency safety: SIGKILL mid-write, two processes on one workspace."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import PipelineRun, Workspace

FILES = Path(__file__).parents[1] / "cli_files"
pytestmark = pytest.mark.slow


def _cmd(ws: Path, target: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "headrace.engine.cli", "run", target, "-w", str(ws), "-q", *args]


def test_sigkill_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    ws_dir = tmp_path / "ws"
    sentinel = tmp_path / "half"
    env = {**os.environ, "CRASHY_SENTINEL": str(sentinel)}
    proc = subprocess.Popen(_cmd(ws_dir, str(FILES / "crashy.py")), env=env, start_new_session=True)
    deadline = time.time() + 60
    while not sentinel.exists():
        assert time.time() < deadline and proc.poll() is None, "the step never started writing"
        time.sleep(0.05)
    time.sleep(0.2)  # let the batch writer commit the finished first step
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    db = sqlite3.connect(ws_dir / "headrace.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [r[0] for r in db.execute("SELECT step FROM cache")] == ["small"]
    db.close()

    ws = Workspace(ws_dir)
    assert ws.history.reap_dead_runs() != []
    killed = ws.history.list_runs()[0]
    assert killed["status"] == "Failed" and "died" in killed["error"]
    for step, name, rec in ws.history.get_outputs(killed["id"]):
        assert ws.store.exists(rec), f"{step}.{name} recorded but missing"
    assert not list((ws_dir / "artifacts" / "objects").glob("*/*/big.bin"))

    rerun = subprocess.run(
        _cmd(ws_dir, str(FILES / "crashy.py")), capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    run = PipelineRun(ws, ws.history.list_runs()[0]["id"])
    assert run.status == "Completed"
    assert run.steps["small"].reused and run.steps["small"].reused_from == killed["id"]
    assert not run.steps["big"].reused
    assert run.outputs["size"].load() == 40 << 20


def test_two_processes_on_one_workspace(tmp_path: Path) -> None:
    ws_dir = tmp_path / "ws"
    Workspace(ws_dir).close()
    procs = [
        subprocess.Popen(
            _cmd(ws_dir, str(FILES / "many.py")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
        assert "database is locked" not in out + err
    ws = Workspace(ws_dir)
    runs = ws.history.list_runs()
    assert [r["status"] for r in runs] == ["Completed", "Completed"]
    for r in runs:
        run = PipelineRun(ws, r["id"])
        values = {k: v.load() for k, v in run.outputs.items()}
        assert values == {f"t{i}": 499500 + i for i in range(10)}
