"""gc never deletes the staging of a step that is still running, however old it looks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import PipelineRun, Workspace
from headrace.engine.store.gc import collect

FILES = Path(__file__).parent / "files"


@pytest.mark.slow
def test_gc_keeps_the_output_folder_of_a_running_step(tmp_path: Path) -> None:
    ws_root, go = tmp_path / "ws", tmp_path / "go"
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(FILES / "slow_writer.py")]
    proc = subprocess.Popen(
        [*cmd, "--param", f"go={go}", "-w", str(ws_root), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not Path(str(go) + ".ready").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    ws = Workspace(ws_root)
    report = collect(ws, keep_last=0)  # forget everything it may, delete stale staging
    assert not [s for s in report.staging if "/out/" in s], report.staging
    go.write_text("")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    run = PipelineRun(ws, ws.history.list_runs()[0]["id"])
    parts = sorted(p.name for p in Path(run.outputs["parts"].path).iterdir())
    assert parts == ["part0.txt", "part1.txt", "part2.txt", "part3.txt"]
    ws.close()


def test_gc_removes_staging_of_a_dead_process(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    left = ws.store.staging / "out" / f"out-{child.pid}-abc"
    left.mkdir(parents=True)
    (left / "half.txt").write_text("half-written")
    report = collect(ws)
    assert str(left) in report.staging and not left.exists()
    ws.close()
