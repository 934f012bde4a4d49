"""Path inputs are checked before a run: a missing file or a FIFO is a clear error, and no run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.engine import ParameterError, Workspace, component, pipeline


@component
def size(data: Path) -> int:
    return data.stat().st_size


@component
def sizes(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)


@pipeline
def measured(data: Path, files: list[Path]):
    return {"one": size(data=data), "all": sizes(files=files)}


def test_a_missing_input_file_is_refused_before_the_run(ws: Workspace, tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("x")
    params = {"data": str(tmp_path / "missing.csv"), "files": [str(good), str(tmp_path / "gone")]}
    with pytest.raises(ParameterError) as info:
        measured.submit(params=params, workspace=ws)
    text = str(info.value)
    assert (
        "step 'size', input 'data' (parameter 'data'):" in text
        and "missing.csv' does not exist" in text
    )
    assert (
        "step 'sizes', input 'files' (parameter 'files'):" in text
        and "gone' does not exist" in text
    )
    assert ws.history.list_runs() == []  # nothing was recorded


def test_a_fifo_as_input_is_refused(ws: Workspace, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    good = tmp_path / "a.csv"
    good.write_text("x")
    with pytest.raises(ParameterError, match="is not a regular file or folder"):
        measured.submit(params={"data": str(fifo), "files": [str(good)]}, workspace=ws)


def test_the_cli_says_so_in_one_paragraph(tmp_path: Path) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(
        "from pathlib import Path\nfrom headrace.engine import component, pipeline\n\n"
        "@component\ndef size(data: Path) -> int:\n    return data.stat().st_size\n\n"
        "@pipeline\ndef p(data: Path):\n    return {'n': size(data=data)}\n"
    )
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(flows)]
    proc = subprocess.run(
        [*cmd, "--param", "data=nope.csv", "-w", str(tmp_path / "ws"), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "'nope.csv' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
