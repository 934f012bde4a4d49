"""The README as a newcomer uses it: its snippet and its commands run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def _bash_lines(title: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", _section(title), re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def _sh(line: str, cwd: Path, ws: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HEADRACE_HOME": str(ws)}
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """What a fresh clone holds that the commands use: the examples folder."""
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_examples_the_readme_names_exist():
    for name in ("quickstart.py", "pipelines.py", "flows.py"):
        assert (ROOT / "examples" / name).is_file()
    for target in re.findall(r"(examples/\w+\.py)", README):
        assert (ROOT / target).is_file(), target


@pytest.mark.slow
def test_the_60_second_snippet_runs_once_under_headrace_run(tmp_path):
    code = re.search(r"```python\n(.*?)```", _section("60-second quick start"), re.S)
    assert code is not None
    (tmp_path / "train.py").write_text(code.group(1))
    ws = tmp_path / "ws"
    done = _sh("headrace run train.py --param reg_rate=0.1", tmp_path, ws)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = json.loads(_sh("headrace runs list --json", tmp_path, ws).stdout)
    assert len(listed) == 1  # importing the file submitted nothing
    assert listed[0]["params"] == {"reg_rate": 0.1} and listed[0]["status"] == "Completed"


@pytest.mark.slow
def test_the_schedule_commands_run_as_written(clone):
    ws = clone / ".headrace"
    lines = _bash_lines("Schedules and data triggers")
    assert any("daemon --detach" in line for line in lines)
    try:
        for line in lines:
            if line.startswith("headrace schedule trigger"):
                continue  # runs the whole quickstart: covered by the command-line test
            done = _sh(line, clone, ws)
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
    finally:
        _sh("headrace daemon stop", clone, ws)
    listed = json.loads(_sh("headrace schedule list --json", clone, ws).stdout)
    assert {s["name"] for s in listed} >= {"nightly", "report", "hourly", "on-data", "on-dask"}


@pytest.mark.slow
def test_the_command_line_section_runs_as_written(clone):
    ws = clone / ".headrace"
    for line in _bash_lines("Command line"):
        if "RUN_ID" in line:
            run_id = json.loads(_sh("headrace runs list --json", clone, ws).stdout)[0]["id"]
            line = line.replace("RUN_ID", run_id)
        done = _sh(line, clone, ws)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
    assert not list(clone.glob("*.png"))  # the PNG went into the workspace
    assert list((ws / "dags").glob("*.png"))


@pytest.mark.slow
def test_flows_score_summarizes_the_files_of_a_firing(clone):
    inbox = clone / "data" / "incoming"
    inbox.mkdir(parents=True)
    (inbox / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (inbox / "b.csv").write_text("x,y\n5,6\n")
    ws = clone / ".headrace"
    done = _sh(
        "headrace run examples/flows.py:score -p files=data/incoming/a.csv,data/incoming/b.csv",
        clone,
        ws,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = json.loads(_sh("headrace runs list --json", clone, ws).stdout)[0]["id"]
    shown = json.loads(_sh(f"headrace runs show {run_id} --json", clone, ws).stdout)
    summary = Path(shown["steps"]["summarize"]["outputs"]["summary"]["path"])
    assert json.loads(summary.read_text()) == {"a.csv": 2, "b.csv": 1}
