"""A pipeline file that exits at import, or a folder given as the file, is an error, never exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _run(target: Path, ws: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(target), "-w", str(ws), "-q"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_os_exit_at_import_is_an_error_and_no_run(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text("import os\nos._exit(0)\n")
    proc = _run(flows, tmp_path / "ws")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "called os._exit(0)" in proc.stderr and 'if __name__ == "__main__":' in proc.stderr


def test_sys_exit_at_import_is_an_error(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text("import sys\nsys.exit(0)\n")
    proc = _run(flows, tmp_path / "ws")
    assert proc.returncode == 2 and "raised SystemExit" in proc.stderr, proc.stderr


def test_a_folder_is_not_a_pipeline_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    proc = _run(tmp_path / "data", tmp_path / "ws")
    assert proc.returncode == 2 and "is a folder, not a pipeline file" in proc.stderr
