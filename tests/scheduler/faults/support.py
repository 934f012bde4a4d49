"""Helpers of the fault tests: a real daemon process, the CLI, the ledger, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from headrace.engine import Workspace

PIPELINES = Path(__file__).with_name("fault_pipelines.py")
CLI = [sys.executable, "-m", "headrace.engine.cli"]
T = TypeVar("T")


def headrace(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180)
    if check is not None:
        assert done.returncode == check, done.stderr + done.stdout
    return done


class DaemonProcess:
    """``headrace daemon`` in a child process, its output in a file (a pipe could fill up)."""

    def __init__(self, ws: Path, log: Path):
        self.ws, self.log = ws, log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*CLI, "daemon", "-w", str(ws)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(lambda: self.locked() or self.proc.poll() is not None, 60)
        assert self.proc.poll() is None, self.output()

    def locked(self) -> bool:
        lock = self.ws / "scheduler.lock"
        return lock.exists() and lock.read_text().strip() == str(self.proc.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(90)


def wait_for(predicate: Callable[[], T], timeout: float = 60.0, every: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s")
        time.sleep(every)


def runs(ws: Path) -> list[dict[str, Any]]:
    """Every run of the workspace, oldest first."""
    with Workspace(ws) as w:
        return list(reversed(w.history.list_runs()))


def run(ws: Path, run_id: str) -> dict[str, Any] | None:
    with Workspace(ws) as w:
        return w.history.get_run(run_id)


def firings(ws: Path) -> list[dict[str, Any]]:
    with Workspace(ws) as w:
        return w.history.query("SELECT * FROM firings ORDER BY fire_time, decided_at")


def ledger(path: Path) -> list[dict[str, Any]]:
    """What the test pipelines processed, one entry per file and run."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def create_trigger(ws: Path, name: str, target: str, inbox: Path, *extra: str) -> None:
    headrace(
        "schedule",
        "create",
        name,
        "--pipeline",
        f"{PIPELINES}:{target}",
        "--on-change",
        str(inbox),
        "--settle",
        "0.2s",
        "--poll",
        "1s",
        *extra,
        "-w",
        str(ws),
    )


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
