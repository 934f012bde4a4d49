"""Processes creating one new workspace at the same moment do not collide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CREATE = """
import sys, time
from headrace.engine import Workspace
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
Workspace(sys.argv[1]).close()
"""


def test_many_processes_create_the_same_workspace_at_once(tmp_path: Path) -> None:
    import time

    for i in range(2):
        root = tmp_path / f"ws{i}"
        start = time.time() + 3.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CREATE, str(root), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, errors
        assert (root / "workspace.json").exists()
        assert not list(root.glob("*.tmp"))
