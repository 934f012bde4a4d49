"""The headrace command as a real subprocess, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FILES = Path(__file__).parents[1] / "cli_files"


def headrace(
    *args: str, ws: Path | None = None, check: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``headrace ARGS [--workspace WS]``; with ``check``, assert its exit code."""
    cmd = [sys.executable, "-m", "headrace.engine.cli", *args]
    if ws is not None:
        cmd += ["--workspace", str(ws)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc
