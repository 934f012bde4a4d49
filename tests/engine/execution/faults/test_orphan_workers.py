"""Process-pool workers end when the run's process is SIGKILLed (they used to linger)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

FILES = Path(__file__).parents[2] / "cli_files"


@pytest.mark.slow
def test_workers_die_with_a_sigkilled_run(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "headrace.engine.cli", "run", str(FILES / "slow.py"),
        "--executor", "local-processes", "--param", "seconds=60", "-w", str(tmp_path / "ws"), "-q",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 60
    workers: list[psutil.Process] = []
    while not workers:  # the pool's workers, once the first step runs in one of them
        assert time.time() < deadline and proc.poll() is None, "the step never started"
        workers = [c for c in parent.children(recursive=True) if "python" in c.name()]
        time.sleep(0.2)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)  # the run's process only, as the OOM killer would
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == [], [p.pid for p in alive]
