"""``headrace runs logs|show|download|cat|list|compare|rerun|cancel`` and ``headrace metrics``,
through real subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pytest

from headrace.engine import Workspace

from .support import FILES, headrace

LOGGED = str(FILES / "logged.py")


def run_ids(ws: Path) -> list[str]:
    return [r["id"] for r in json.loads(headrace("runs", "list", "--json", ws=ws, check=0).stdout)]


def test_run_echoes_step_output_prefixed_and_runs_logs_prints_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = headrace("run", LOGGED, ws=ws, check=0)
    assert "[prep] preparing 6 rows\n" in proc.stdout and "[train] epoch 3\n" in proc.stdout
    assert "[prep] this is a warning record" in proc.stderr  # logging's own output, prefixed
    (rid,) = run_ids(ws)
    every = headrace("runs", "logs", rid, ws=ws, check=0).stdout
    assert "── prep (attempt 1, Completed) ──\npreparing 6 rows\n" in every
    assert "WARNING prep: this is a warning record\n" in every
    assert every.count("this is a warning record") == 1  # logging's stderr copy is not kept too
    assert "── train (attempt 1, Completed) ──\nepoch 0\nepoch 1\n" in every
    one = headrace("runs", "logs", rid, "train", "--attempt", "1", ws=ws, check=0).stdout
    assert one == "epoch 0\nepoch 1\nepoch 2\nepoch 3\n"
    bad = headrace("runs", "logs", rid, "train", "--attempt", "2", ws=ws, check=2)
    assert "step 'train' of run" in bad.stderr and "has no attempt 2 (attempts: 1)" in bad.stderr
    typo = headrace("runs", "logs", rid, "trian", ws=ws, check=2)
    assert "has no step 'trian'. Did you mean 'train'?" in typo.stderr
    again = headrace("run", LOGGED, ws=ws, check=0)
    rid2 = run_ids(ws)[0]
    reused = headrace("runs", "logs", rid2, "prep", ws=ws, check=0).stdout
    assert f"reused from run {rid}, nothing ran here" in reused
    assert again.returncode == 0


def test_show_a_failed_run_with_its_log_attempts_code_and_outputs(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    headrace("run", LOGGED, "--param", "rate=2", ws=ws, check=1)
    (rid,) = run_ids(ws)
    shown = headrace("runs", "show", rid, ws=ws, check=0)
    assert re.search(r"^code git [0-9a-f]{12}( \(dirty\))?, snapshot of 1 file", shown.stdout, re.M)
    assert "attempts:\n  train attempt 1" in shown.stdout
    assert "Failed  ValueError: rate 2.0 is too high" in shown.stdout
    assert "loss (4 values)  1.0, 0.5, 0.3333333333333333, 0.25" in shown.stdout
    assert 'raise ValueError(f"rate {rate} is too high")' in shown.stderr
    assert f"last 20 lines of its log (all of it: headrace runs logs {rid} train):" in shown.stderr
    assert shown.stderr.rstrip().endswith("epoch 0\nepoch 1\nepoch 2\nepoch 3")
    listed = headrace("runs", "list", ws=ws, check=0).stdout
    assert "train: ValueError: rate 2.0 is too high" in listed  # the error column


def test_download_and_cat_outputs_by_name(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    headrace("run", LOGGED, "--param", "rate=0.5", ws=ws, check=0)
    (rid,) = run_ids(ws)
    shown = headrace("runs", "show", rid, ws=ws, check=0).stdout
    assert "  score  5455.15\n" in shown and "  rate  0.5\n" in shown
    assert "  train  table (parquet)" in shown and "  report  path (folder)" in shown
    to = tmp_path / "out"
    headrace("runs", "download", rid, "--to", str(to), ws=ws, check=0)
    names = sorted(p.name for p in to.iterdir())
    assert names == ["model.joblib", "rate.json", "report", "score.json", "train.parquet"]
    assert pd.read_parquet(to / "train.parquet")["y"].tolist()[:2] == [0.0, 2.5]
    assert joblib.load(to / "model.joblib") == {"weights": [0.5, 0.5, 0.5]}
    assert (to / "report" / "summary.txt").read_text() == "score 5455.15\n"
    assert json.loads((to / "score.json").read_text()) == 5455.15
    some = tmp_path / "some"
    headrace("runs", "download", rid, "model", "report", "--to", str(some), ws=ws, check=0)
    assert sorted(p.name for p in some.iterdir()) == ["model.joblib", "report"]
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    refused = headrace("runs", "download", rid, "--to", str(a_file), ws=ws, check=2)
    assert "that is a file; give a folder" in refused.stderr and "Errno" not in refused.stderr
    assert a_file.read_text() == "keep me"
    table = headrace("runs", "cat", rid, "train", "--rows", "2", ws=ws, check=0).stdout
    assert table.splitlines() == ["   x    y", "0  0  0.0", "1  1  2.5", "[6 rows x 2 columns]"]
    assert headrace("runs", "cat", rid, "score", ws=ws, check=0).stdout == "5455.15\n"
    missing = headrace("runs", "cat", rid, "scor", ws=ws, check=2)
    assert "has no output 'scor'. Did you mean 'score'?" in missing.stderr


def test_list_filters_compare_and_metrics_png(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for rate in ("0.1", "0.2", "3"):
        headrace("run", LOGGED, "--param", f"rate={rate}", ws=ws)
    failed, second, first = run_ids(ws)
    statuses = json.loads(headrace("runs", "list", "--status", "Failed", "--json", ws=ws).stdout)
    assert [r["id"] for r in statuses] == [failed]
    assert len(json.loads(headrace("runs", "list", "--since", "1h", "--json", ws=ws).stdout)) == 3
    future = headrace("runs", "list", "--since", "2999-01-01", "--json", ws=ws, check=0)
    assert json.loads(future.stdout) == []
    bad = headrace("runs", "list", "--since", "soon", ws=ws, check=2)
    assert "--since 'soon' is not a point in time; give a duration ago such as 2h" in bad.stderr
    compared = headrace("runs", "compare", first, second, ws=ws, check=0).stdout
    rate_row = next(line for line in compared.splitlines() if "param rate" in line)
    rows_row = next(line for line in compared.splitlines() if "param rows" in line)
    assert "*" in rate_row and "0.1" in rate_row and "0.2" in rate_row and "*" not in rows_row
    assert "1091.03" in compared and "2182.06" in compared  # exact, not 1.091e+03
    png = tmp_path / "score.png"
    plotted = headrace("metrics", "logged", "--metric", "score", "--png", str(png), ws=ws, check=0)
    assert first in plotted.stdout and "1091.03" in plotted.stdout and failed not in plotted.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    series = headrace("metrics", "logged", "-m", "train.loss", "--run", first, ws=ws, check=0)
    assert "0.3333333333333333" in series.stdout
    typo = headrace("metrics", "logged", "--metric", "scor", ws=ws, check=2)
    assert "Did you mean 'train.score'?" in typo.stderr or "Logged: train.loss" in typo.stderr


def test_list_by_schedule_takes_its_run_ids_and_tags(tmp_path: Path) -> None:
    from headrace.engine.definitions.loader import load_pipeline

    pipe = load_pipeline(LOGGED)
    with Workspace(tmp_path / "ws") as ws:
        pipe.submit(workspace=ws, run_id="sched-nightly-20261201T020000Z")
        pipe.submit(workspace=ws, run_id="sched-nightly-20261202T020000Z-a2")
        pipe.submit(workspace=ws, run_id="sched-nightly-x-20261202T020000Z")
        pipe.submit(workspace=ws, tags={"schedule": "nightly"})
        pipe.submit(workspace=ws)
    rows = json.loads(
        headrace("runs", "list", "--schedule", "nightly", "--json", ws=tmp_path / "ws").stdout
    )
    ids = [r["id"] for r in rows]
    assert len(ids) == 3 and "sched-nightly-x-20261202T020000Z" not in ids
    assert rows[0]["tags"] == {"schedule": "nightly"}
    shown = json.loads(headrace("runs", "show", ids[0], "--json", ws=tmp_path / "ws").stdout)
    assert shown["tags"] == {"schedule": "nightly"}
    human = headrace("runs", "show", ids[0], ws=tmp_path / "ws", check=0).stdout
    assert "tags schedule nightly" in human


def test_rerun_resumes_from_the_failure(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    headrace("run", LOGGED, "--param", "rate=2", ws=ws, check=1)
    (failed,) = run_ids(ws)
    again = headrace("runs", "rerun", failed, "--param", "fail_over=5", ws=ws, check=0)
    assert f"(rerun of {failed})" in again.stdout
    new = run_ids(ws)[0]
    run = Workspace(ws).run(new)
    assert run.params["rate"] == 2.0 and run.params["fail_over"] == 5.0
    assert run.steps["prep"].reused_from == failed and not run.steps["train"].reused
    assert run.outputs["score"].load() == 21820.6


def test_json_output_is_strict_json_with_nan_and_infinity(tmp_path: Path) -> None:
    """Bare NaN / Infinity are refused by jq, JavaScript and Go: they are strings."""
    ws = tmp_path / "ws"
    headrace("run", LOGGED, "-p", "rate=nan", "-p", "fail_over=inf", ws=ws, check=0)

    def strict(text: str) -> object:
        return json.loads(text, parse_constant=lambda word: pytest.fail(f"bare {word}"))

    (row,) = strict(headrace("runs", "list", "--json", ws=ws, check=0).stdout)
    assert row["params"]["rate"] == "NaN" and row["params"]["fail_over"] == "Infinity"
    shown = strict(headrace("runs", "show", row["id"], "--json", ws=ws, check=0).stdout)
    assert shown["params"]["rate"] == "NaN"
    assert headrace("runs", "cat", row["id"], "rate", ws=ws, check=0).stdout.strip() == '"NaN"'


def test_rerun_of_a_run_with_an_enum_parameter(tmp_path: Path) -> None:
    """An Enum is recorded by its value, which binding reads back (it was 'Color.BLUE')."""
    ws = tmp_path / "ws"
    headrace("run", str(FILES / "colors.py"), "-p", "color=blue", ws=ws, check=0)
    (first,) = run_ids(ws)
    assert Workspace(ws).run(first).params == {"color": "blue", "finish": "matte"}
    headrace("runs", "rerun", first, "-p", "finish=gloss", ws=ws, check=0)
    run = Workspace(ws).run(run_ids(ws)[0])
    assert run.outputs["paint"].load() == "blue/gloss"


@pytest.mark.slow
def test_follow_and_cancel_a_run_another_process_started(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", LOGGED, "-p", "pause=60"]
    runner = subprocess.Popen([*cmd, "-w", str(ws)], stdout=subprocess.PIPE, text=True)
    try:
        rid = _wait_for_output(ws, "report", "writing 2")
        follow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "headrace.engine.cli",
                "runs",
                "logs",
                rid,
                "--follow",
                "-w",
                str(ws),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        canceled = headrace("runs", "cancel", rid, ws=ws, check=0)
        assert canceled.stdout.strip() == f"run {rid}: Canceled"
        followed, _ = follow.communicate(timeout=30)
        assert runner.wait(timeout=30) == 130  # canceled, as with Ctrl-C
        table = runner.stdout.read() if runner.stdout else ""
    finally:
        runner.kill()
    (row,) = [line for line in table.splitlines() if line.startswith("│ report ")]
    assert "Canceled" in row and [c.strip() for c in row.split("│")][4] == "1"  # its attempt
    assert "[prep] preparing 6 rows\n" in followed and "[report] writing 2\n" in followed
    run = Workspace(ws).run(rid)
    assert run.status == "Canceled" and "headrace runs cancel" in (run.error or "")
    assert run.steps["report"].attempts == 1
    (attempt,) = run.steps["report"].attempt_history
    assert not attempt.ok and attempt.logs.startswith("writing 0\nwriting 1\nwriting 2\n")
    again = headrace("runs", "cancel", rid, ws=ws, check=1)
    assert "already ended Canceled; there is nothing to cancel" in again.stderr


def _wait_for_output(ws: Path, step: str, text: str) -> str:
    """The id of the run whose ``step`` has printed ``text`` (read through runs logs)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        if (ws / "headrace.db").exists():
            ids = run_ids(ws)
            if ids and text in headrace("runs", "logs", ids[0], step, ws=ws).stdout:
                return ids[0]
        time.sleep(0.3)
    raise AssertionError(f"{step} never printed {text!r}")


@pytest.mark.slow
def test_a_killed_run_keeps_what_its_step_printed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cmd = [sys.executable, "-m", "headrace.engine.cli", "run", LOGGED, "-p", "pause=60"]
    runner = subprocess.Popen([*cmd, "-w", str(ws)], stdout=subprocess.DEVNULL)
    try:
        rid = _wait_for_output(ws, "report", "writing 1")
    finally:
        runner.kill()
        runner.wait()
    logs = headrace("runs", "logs", rid, "report", ws=ws, check=0).stdout  # reaps the run
    assert "── report (attempt 1, Failed: the process running it died" in logs
    assert "writing 0\nwriting 1\n" in logs
    assert not (ws / "logs" / rid).exists()
    run = Workspace(ws).run(rid)
    assert run.status == "Failed" and run.steps["report"].logs.startswith("writing 0\n")


def test_download_of_a_list_of_paths_is_a_folder_of_its_files(tmp_path: Path) -> None:
    """One file or several, the files keep their names; two of one name get numbered folders."""
    from headrace.engine import Workspace as _Workspace
    from headrace.engine import component, get_run_context, pipeline
    from headrace.engine.cli.outputs import download
    from tests.engine.execution.test_output_types import named_parts

    @component
    def one_file() -> list[Path]:
        (get_run_context().output_dir / "only.csv").write_text("a\n")
        return [get_run_context().output_dir / "only.csv"]

    @pipeline(name="one-part")
    def one_part():
        return {"parts": one_file()}

    ws = _Workspace(tmp_path / "ws")
    single = one_part.submit(workspace=ws).raise_for_status()
    got = download("parts", single.outputs["parts"], tmp_path)
    assert got == tmp_path / "parts" and [p.name for p in got.iterdir()] == ["only.csv"]
    several = named_parts.submit(workspace=ws).raise_for_status()
    (tmp_path / "b").mkdir()
    got = download("parts", several.outputs["parts"], tmp_path / "b")
    files = sorted(str(p.relative_to(got)) for p in got.rglob("*.csv"))
    assert files == ["00000/train.csv", "00001/test.csv", "00002/train.csv"]
