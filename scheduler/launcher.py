"""Starting a firing's run: by default ``headrace run`` in a child process per run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from headrace.scheduler.store import Firing


class Child(Protocol):
    """A started run the daemon can poll, interrupt (cancel cleanly) and kill."""

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""

    def interrupt(self) -> None:
        """Ask the run to cancel (it records Canceled)."""

    def kill(self) -> None:
        """Stop it now."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds; the exit code, or None if still running."""


class Launcher(Protocol):
    """Starts the run of a firing."""

    def start(self, firing: Firing, pipeline: str, workspace: Path) -> Child:
        """Start ``pipeline`` with the firing's run id and parameters in ``workspace``."""


class ProcessChild:
    """A ``headrace run`` child process.

    Args:
        popen: The process.
    """

    def __init__(self, popen: subprocess.Popen[bytes]):
        self.popen = popen

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.popen.poll()

    def interrupt(self) -> None:
        """Send SIGINT: ``headrace run`` records the run Canceled and exits 130."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Send SIGKILL."""
        if self.popen.poll() is None:
            self.popen.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class SubprocessLauncher:
    """Runs each firing as ``python -m headrace.engine.cli run FILE.py:P --run-id ID -q``.

    A child process isolates user code from the daemon and picks up edited pipeline files.
    Its output goes to ``<workspace>/scheduler-logs/<run id>.log``; it runs in its own
    session, so a Ctrl-C at the daemon's terminal reaches runs only through the daemon.
    """

    def start(self, firing: Firing, pipeline: str, workspace: Path) -> Child:
        """Start the child process."""
        logs = workspace / "scheduler-logs"
        logs.mkdir(exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "headrace.engine.cli",
            "run",
            pipeline,
            "--workspace",
            str(workspace),
            "--run-id",
            firing.run_id,
            "--quiet",
        ]
        for key, value in firing.params.items():
            cmd += ["--param", f"{key}={value}"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
        with open(logs / f"{firing.run_id}.log", "ab") as out:
            popen = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        return ProcessChild(popen)
