"""An input overwritten while its step runs is never cached under the content it had before.

The step fingerprinted data.csv (v1), then read it after it was overwritten with v2, and the
result (v2's answer) was cached under v1's key: restoring v1 then reused v2's answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace, component, pipeline
from headrace.engine.execution.inputs import input_marks

FLOW = """
import time
from pathlib import Path

from headrace.engine import component, pipeline


@component
def total(data: Path) -> int:
    (data.parent / "started").touch()
    while not (data.parent / "go").exists():
        time.sleep(0.01)
    return sum(int(x) for x in data.read_text().split(","))


@pipeline(name="changing")
def flow(data: Path):
    return {"total": total(data=data)}
"""


def _run(tmp_path: Path, ws: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(tmp_path / "flow.py"),
           "--param", f"data={tmp_path / 'in' / 'data.csv'}", "-w", str(ws), "-q"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_an_input_changed_during_its_step_is_not_cached_under_its_old_content(
    tmp_path: Path,
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    data = tmp_path / "in" / "data.csv"
    data.parent.mkdir()
    data.write_text("1,2,3")
    os.utime(data, (1_600_000_000, 1_600_000_000))
    ws = tmp_path / "ws"
    proc = _run(tmp_path, ws)
    deadline = time.time() + 60
    while not (data.parent / "started").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.01)
    data.write_text("4,5,6")  # v2, while the step waits to read
    (data.parent / "go").touch()
    assert proc.wait(timeout=60) == 0, proc.communicate()
    with Workspace(ws) as w:
        (first,) = w.runs(pipeline="changing")
        step = first.steps["total"]
        assert first.outputs["total"].load() == 15  # what it read: v2
        assert "input 'data' changed while the step ran" in step.reason
    data.write_text("1,2,3")  # v1 again, at v1's mtime: its fingerprint is v1's
    os.utime(data, (1_600_000_000, 1_600_000_000))
    assert _run(tmp_path, ws).wait(timeout=60) == 0
    with Workspace(ws) as w:
        second = w.runs(pipeline="changing")[0]
        assert not second.steps["total"].reused, second.steps["total"].reason
        assert second.outputs["total"].load() == 6


@component
def count_files(data: Path) -> int:
    return sum(1 for _ in data.rglob("*"))


@pipeline(name="folder-marks")
def folder_flow(data: Path):
    return {"n": count_files(data=data)}


def _marks(folder: Path) -> dict[str, str]:
    step = folder_flow.definition.steps["count_files"]
    return input_marks(step, {"data": folder})


def _stealthy_edit(path: Path) -> None:
    """Same size, mtime put back (ctime still moves, as it does for any write)."""
    st = path.stat()
    path.write_text(path.read_text().upper())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_marks_see_what_the_folder_fingerprint_sees(tmp_path: Path) -> None:
    """A file under a linked subfolder and an empty subfolder count in a folder's key, so a
    change to either while the step runs must count too."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("abc")
    data = tmp_path / "data"
    data.mkdir()
    (data / "top.txt").write_text("top")
    (data / "link").symlink_to(real, target_is_directory=True)
    before = _marks(data)
    assert _marks(data) == before
    _stealthy_edit(real / "a.txt")
    after_edit = _marks(data)
    assert after_edit != before
    (data / "empty").mkdir()
    assert _marks(data) != after_edit
