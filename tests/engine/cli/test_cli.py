"""The headrace command, through real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import FILES, headrace


def test_run_list_show(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = headrace("run", f"{FILES / 'one.py'}", "--param", "x=4", ws=ws, check=0)
    assert "squares: Completed" in proc.stdout and "square" in proc.stdout
    listed = json.loads(headrace("runs", "list", "--json", ws=ws, check=0).stdout)
    assert (
        len(listed) == 1
        and listed[0]["status"] == "Completed"
        and listed[0]["params"] == {"x": 4, "limit": 100}
    )
    shown = json.loads(headrace("runs", "show", listed[0]["id"], "--json", ws=ws, check=0).stdout)
    assert shown["status"] == "Completed" and shown["params"]["x"] == 4
    assert shown["steps"]["square"]["metrics"] == {"x": 4}
    assert shown["steps"]["fail_if"]["reused"] is False
    assert shown["steps"]["fail_if"]["duration"] >= 0
    assert Path(shown["steps"]["square"]["outputs"]["output"]["path"]).read_text() == "16"
    human = headrace("runs", "show", listed[0]["id"], ws=ws, check=0).stdout
    assert "Completed" in human


def test_failed_run_exits_1_with_the_user_traceback(tmp_path: Path) -> None:
    proc = headrace("run", f"{FILES / 'one.py'}:squares", "-p", "x=20", ws=tmp_path / "ws", check=1)
    assert "step 'fail_if' failed" in proc.stderr
    assert "RuntimeError: value 400 is over the limit 100" in proc.stderr
    assert "Traceback" in proc.stderr and "one.py" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.py"], "pipeline file '.*missing.py' does not exist"),
        (["run", str(FILES / "none.py")], "defines no @pipeline"),
        (["run", str(FILES / "two.py")], r"defines 2 pipelines; name one, e.g. .*two.py:first"),
        (["run", f"{FILES / 'two.py'}:frist"], "has no pipeline 'frist'. Did you mean 'first'"),
        (
            ["run", str(FILES / "broken.py")],
            "raised ImportError: no module named nonexistent_dependency",
        ),
        (["run", str(FILES / "one.py"), "--param", "x"], "--param 'x' is not NAME=VALUE"),
        (
            ["run", str(FILES / "one.py"), "--param", "x=abc"],
            r"parameter 'x' \(int\) of pipeline 'squares': expected an int, got 'abc'",
        ),
        (
            ["run", str(FILES / "one.py"), "--param", "y=1"],
            "unknown parameter 'y'.*Known parameters: x, limit",
        ),
        (["dag", str(FILES / "one.py"), "--format", "svg"], "--format 'svg' is not one of"),
        (["runs", "show", "nope"], "no run has the id 'nope'"),
    ],
)
def test_bad_input_gets_one_paragraph(tmp_path: Path, args: list[str], message: str) -> None:
    ws_args = ["--workspace", str(tmp_path / "ws")] if args[0] in ("run", "runs") else []
    if args[0] == "runs":  # read-only commands need a workspace that exists
        from headrace.engine import Workspace

        Workspace(tmp_path / "ws").close()
    proc = headrace(*args, *ws_args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    import re

    assert re.search(message, " ".join(proc.stderr.split())), proc.stderr


def test_two_pipelines_chosen_by_attribute_or_name(tmp_path: Path) -> None:
    headrace("run", f"{FILES / 'two.py'}:second", ws=tmp_path / "ws", check=0)
    proc = headrace("run", f"{FILES / 'two.py'}:greet-first", ws=tmp_path / "ws", check=0)
    assert "greet-first: Completed" in proc.stdout


def test_dag_formats(tmp_path: Path) -> None:
    text = headrace("dag", str(FILES / "one.py"), check=0).stdout
    assert "square  [square]" in text and "value <- square.output" in text
    mermaid = headrace("dag", str(FILES / "one.py"), "--format", "mermaid", check=0).stdout
    assert mermaid.startswith("flowchart TD") and "n_square -->|output→value| n_fail_if" in mermaid
    dot = headrace("dag", str(FILES / "one.py"), "-f", "dot", check=0).stdout
    assert '"square" -> "fail_if"' in dot
    png = tmp_path / "dag.png"
    headrace("dag", str(FILES / "one.py"), "-f", "png", "-o", str(png), check=0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("no-suffix", "picture.jpg"):  # the file named, as a PNG (not name.png, a JPEG)
        said = headrace("dag", str(FILES / "one.py"), "-f", "png", "-o", str(tmp_path / name))
        assert f"wrote {tmp_path / name}" in said.stdout.replace("\n", ""), said.stderr
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("no-suffix.*"))
    (tmp_path / "folder").mkdir()
    refused = headrace("dag", str(FILES / "one.py"), "-f", "png", "-o", str(tmp_path / "folder"))
    assert refused.returncode != 0 and "Is a directory" in refused.stderr


@pytest.mark.slow
def test_ctrl_c_records_canceled(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = subprocess.Popen(
        [sys.executable, "-m", "headrace.engine.cli", "run", str(FILES / "slow.py"), "-w", str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = ws / "headrace.db"
    deadline = time.time() + 30
    while time.time() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as c:
                    row = c.execute("SELECT status FROM step_runs WHERE step='nap'").fetchone()
            except sqlite3.OperationalError:  # the schema is being created right now
                row = None
            if row and row[0] == "Running":
                break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "recorded as Canceled" in err
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status, error FROM runs").fetchone()[0] == "Canceled"
        steps = dict(c.execute("SELECT step, status FROM step_runs").fetchall())
    assert steps == {"nap": "Canceled", "nap_2": "Canceled"}


def test_error_text_is_printed_as_written_not_as_rich_markup(tmp_path: Path) -> None:
    """Brackets in an error (types, the fix hint) reach the terminal unmangled."""
    proc = headrace("run", str(FILES / "markup_types.py"), ws=tmp_path / "ws", check=2)
    assert "expects dict[str, int] but step 'make' output 'output' is int" in proc.stderr
    proc = headrace("run", str(FILES / "markup_hint.py"), ws=tmp_path / "ws", check=2)
    assert '`-> tuple[Annotated[object, "model"], Annotated[float, "accuracy"]]`' in proc.stderr
    proc = headrace("run", str(FILES / "one.py"), "--param", "[red]x", ws=tmp_path / "ws", check=2)
    assert "--param '[red]x' is not NAME=VALUE" in proc.stderr


def test_runs_show_lists_pipeline_outputs_by_name_and_metrics_exactly(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    headrace("run", str(FILES / "one.py"), "--param", "x=4", ws=ws, check=0)
    again = headrace("run", str(FILES / "one.py"), "--param", "x=4", ws=ws, check=0)
    run_id = json.loads(headrace("runs", "list", "--json", ws=ws, check=0).stdout)[0]["id"]
    human = headrace("runs", "show", run_id, ws=ws, check=0).stdout
    assert "outputs:" in human and "  result  16" in human  # by name, the value itself
    assert "reused from run" in human  # the why column is filled for reused steps too
    assert "attempts" in human
    assert again.returncode == 0


def test_long_values_are_cut_in_views_and_metrics_are_exact() -> None:
    from headrace.engine.cli.view import metric_text, short_text

    big = "v" * 5000
    assert short_text(big).endswith("(5,000 characters)") and len(short_text(big)) < 120
    assert metric_text(10910.3) == "10910.3"
    assert metric_text([1.5, 2.5]) == "[1.5, 2.5]"
    assert metric_text(list(range(20))) == "[0, 1, 2, …, 17, 18, 19] (20 values)"


def test_runs_list_says_where_it_cut_the_parameters() -> None:
    from rich.console import Console

    from headrace.engine.cli.view import runs_table

    row = {"id": "r1", "pipeline": "p", "status": "completed", "created_at": 0.0}
    row |= {"started_at": None, "finished_at": None, "error": None}

    def shown(params: dict) -> str:
        console = Console(width=400, record=True)
        console.print(runs_table([row | {"params": params}]))
        return console.export_text()

    short = shown({"a": 1, "b": "x" * 20})
    assert "a=1, b=" + "x" * 20 in short and "…" not in short
    long = shown({f"p{i}": i for i in range(30)})
    assert "p0=0, p1=1" in long and "…" in long and "p29" not in long
