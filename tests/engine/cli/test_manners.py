"""CLI manners: workspace discovery, --version, plain help, bad input without tracebacks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

FILES = Path(__file__).parents[1] / "cli_files"
QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart.py"
CLI = [sys.executable, "-m", "headrace.engine.cli"]


def headrace(*args: str, cwd: Path | None = None, check: int | None = None, **env: str):
    environ = {k: v for k, v in os.environ.items() if k != "HEADRACE_HOME"} | env
    proc = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=180, cwd=cwd, env=environ
    )
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


def one_paragraph(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return " ".join(proc.stderr.split())


# --- workspace discovery ------------------------------------------------------------------
def test_a_subfolder_finds_the_workspace_upward_and_says_which(tmp_path):
    project = tmp_path / "project"
    (project / "data" / "deeper").mkdir(parents=True)
    headrace("run", str(FILES / "one.py"), "-p", "x=3", cwd=project, check=0)
    assert (project / ".headrace" / "headrace.db").is_file()
    listed = headrace("runs", "list", "--json", cwd=project / "data" / "deeper", check=0)
    assert len(json.loads(listed.stdout)) == 1  # the project's run, not an empty new workspace
    assert f"workspace {project / '.headrace'}" in listed.stderr
    assert not (project / "data" / ".headrace").exists()
    assert not (project / "data" / "deeper" / ".headrace").exists()


@pytest.mark.parametrize(
    "args", [["runs", "list"], ["runs", "show", "x"], ["gc", "--dry-run"], ["verify"]]
)
def test_read_only_commands_never_create_a_workspace(tmp_path, args):
    text = one_paragraph(headrace(*args, cwd=tmp_path))
    assert f"no headrace workspace in {tmp_path} or its parent folders" in text
    assert not (tmp_path / ".headrace").exists()
    given = one_paragraph(headrace(*args, "-w", str(tmp_path / "nope"), cwd=tmp_path))
    assert f"--workspace {tmp_path / 'nope'} is not a headrace workspace" in given
    assert not (tmp_path / "nope").exists()


def test_headrace_home_wins_over_discovery(tmp_path):
    home = tmp_path / "home-ws"
    headrace(
        "run", str(FILES / "one.py"), "-p", "x=2", cwd=tmp_path, check=0, HEADRACE_HOME=str(home)
    )
    assert (home / "headrace.db").is_file() and not (tmp_path / ".headrace").exists()
    listed = headrace("runs", "list", "--json", cwd=tmp_path, check=0, HEADRACE_HOME=str(home))
    assert len(json.loads(listed.stdout)) == 1


# --- version and help ---------------------------------------------------------------------
def test_version():
    from importlib.metadata import version

    proc = headrace("--version", check=0)
    assert proc.stdout.strip() == f"headrace {version('headrace')}"


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["runs", "list"], ["dag"], ["schedule", "create"], ["daemon"], ["gc"]],
)
def test_help_shows_no_type_tags(command):
    proc = headrace(*command, "--help", check=0, COLUMNS="120")
    assert "--help" in proc.stdout
    assert not re.search(r"<(bool|list\[str\]|str|int|float|path)>", proc.stdout), proc.stdout


# --- bad input ----------------------------------------------------------------------------
def test_a_repeated_param_is_an_error(tmp_path):
    proc = headrace("run", str(FILES / "one.py"), "-p", "x=1", "-p", "x=2", "-w", str(tmp_path))
    assert "--param x is given twice (x=1 and x=2)" in one_paragraph(proc)


def test_a_none_default_for_a_float_parameter_is_an_error_not_a_traceback(tmp_path):
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from headrace.engine import component, pipeline\n\n"
        "@component\ndef f(x: float = 1.0) -> float:\n    return x\n\n"
        "@pipeline\ndef p(x: float = None):\n    return {'y': f(x=x)}\n"
    )
    text = one_paragraph(headrace("run", str(flow), "-w", str(tmp_path / "ws")))
    assert "pipeline 'p', parameter 'x': its default None does not fit float" in text
    assert "annotate it `x: float | None = None`" in text
    given = headrace("run", str(flow), "-p", "x=2.5", "-w", str(tmp_path / "ws"), check=0)
    assert "Completed" in given.stdout


def test_a_folder_is_not_a_pipeline_file(tmp_path):
    (tmp_path / "data").mkdir()
    text = one_paragraph(headrace("run", "data", cwd=tmp_path))
    assert f"'{tmp_path / 'data'}' is a folder, not a pipeline file" in text
    assert "does not exist" not in text


@pytest.mark.skipif(not os.path.isdir("/proc/1"), reason="needs /proc")
def test_a_workspace_where_none_can_be_created(tmp_path):
    # Tests run as root, who may write almost anywhere: /proc/1 is a folder nobody may
    # write, and a path under a regular file is never a folder.
    text = one_paragraph(headrace("run", str(FILES / "one.py"), "-w", "/proc/1"))
    assert "cannot create a workspace at /proc/1 (/proc/1 is read-only for you)" in text
    (tmp_path / "file").write_text("x")
    text = one_paragraph(
        headrace("run", str(FILES / "one.py"), "-w", str(tmp_path / "file" / "ws"))
    )
    assert f"({tmp_path / 'file'} is a file, not a folder)" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.mark.parametrize("address", ["refused", "tcp://10.255.255.1:8786", "nonsense:x"])
def test_an_unreachable_dask_address_is_a_clear_error_within_seconds(tmp_path, address):
    if address == "refused":
        address = f"tcp://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    proc = headrace(
        "run", str(FILES / "one.py"), "--executor", "dask", "--dask-address", address,
        "-w", str(tmp_path / "ws"),
    )  # fmt: skip
    assert time.monotonic() - started < 15
    text = one_paragraph(proc)
    assert f"--dask-address {address}" in text or f"--dask-address '{address}'" in text
    assert len(proc.stderr.strip().splitlines()) <= 3


# --- dag ----------------------------------------------------------------------------------
def test_dag_png_goes_to_the_workspace_or_out_never_the_current_folder(tmp_path):
    proc = headrace("dag", str(QUICKSTART), "-f", "png", cwd=tmp_path, check=0)
    made = tmp_path / ".headrace" / "dags" / "diabetes-training.png"
    assert f"wrote {made}" in proc.stdout and made.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.png"))
    out = tmp_path / "pics" / "q.png"
    headrace("dag", str(QUICKSTART), "-f", "png", "--out", str(out), cwd=tmp_path, check=0)
    assert out.read_bytes()[:4] == b"\x89PNG"
    text = one_paragraph(headrace("dag", str(QUICKSTART), "--out", str(out)))
    assert "--out goes with --format png" in text


@pytest.mark.slow
def test_a_live_dask_address_passes_the_check_and_its_info_logs_stay_quiet(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, processes=False, dashboard_address=":0", protocol="tcp"
    ) as cluster:
        address = cluster.scheduler_address
        proc = headrace(
            "run", str(FILES / "one.py"), "-p", "x=3", "--executor", "dask",
            "--dask-address", address, "-w", str(tmp_path / "ws"), check=0,
        )  # fmt: skip
    assert "squares: Completed" in proc.stdout
    local = headrace(
        "run", str(FILES / "one.py"), "-p", "x=5", "--executor", "dask",
        "-w", str(tmp_path / "ws"), check=0,
    )  # fmt: skip
    assert "distributed." not in local.stderr and " INFO " not in local.stderr, local.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["daemon", "--tick", "0"], "--tick: 0.0 is not a number of seconds above 0"),
        (["daemon", "--tick", "nan"], "--tick: nan is not"),
        (["daemon", "--stop-grace", "-1"], "--stop-grace: -1.0 is not"),
        (["runs", "list", "--limit", "0"], "'--limit'"),
        (["gc", "--older-than", ""], "--older-than: age '' is not like 30d"),
    ],
    ids=["tick-0", "tick-nan", "grace-negative", "limit-0", "older-than-empty"],
)
def test_out_of_range_numbers_and_empty_ages_are_refused_before_anything_runs(tmp_path, args, says):
    ws = tmp_path / "ws"
    text = one_paragraph(headrace(*args, "-w", str(ws)))
    assert says in text
    assert not (ws / "daemon.pid").exists()
