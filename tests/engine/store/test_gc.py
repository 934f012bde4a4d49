"""gc, runs explain, and reaping runs whose process died."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headrace.engine import PipelineRun, Workspace
from headrace.engine.store.gc import collect, parse_age
from tests.engine.dags import chain


def test_gc_keeps_what_kept_runs_use(ws: Workspace) -> None:
    first = chain.submit(params={"n": 3}, workspace=ws)
    second = chain.submit(params={"n": 4}, workspace=ws)
    third = chain.submit(params={"n": 3}, workspace=ws)  # reuses first's artifacts
    assert all(s.reused for s in third.steps.values())
    dry = collect(ws, keep_last=1, dry_run=True)
    assert dry.runs == [second.id, first.id] and dry.dry_run
    only_second = {rec.fingerprint for _, _, rec in ws.history.get_outputs(second.id)}
    only_second -= {rec.fingerprint for _, _, rec in ws.history.get_outputs(third.id)}
    assert {a.fingerprint for a in dry.artifacts} == only_second
    assert ws.history.get_run(first.id) is not None  # dry run changed nothing

    report = collect(ws, keep_last=1)
    assert report.bytes_freed > 0
    assert [r["id"] for r in ws.history.list_runs()] == [third.id]
    kept = PipelineRun(ws, third.id)
    assert kept.outputs["total"].load() == 6.0  # artifacts it reused survive
    # The kept run reused first's results: the cache entries now point at it.
    assert {r["run_id"] for r in ws.history.query("SELECT run_id FROM cache")} == {third.id}
    rerun = chain.submit(params={"n": 3}, workspace=ws)
    assert all(s.reused and s.reused_from == third.id for s in rerun.steps.values())


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * 86400 and parse_age("1.5h") == 5400
    with pytest.raises(ValueError, match="not like 30d"):
        parse_age("soon")


def test_reap_dead_runs(ws: Workspace) -> None:
    run = chain.submit(workspace=ws)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with ws.history.transaction() as c:
        c.execute("UPDATE runs SET status='Running', pid=? WHERE id=?", (int(dead.stdout), run.id))
        c.execute(
            "UPDATE step_runs SET status='Running' WHERE run_id=? AND step='total'", (run.id,)
        )
    assert ws.history.reap_dead_runs() == [run.id]
    reaped = PipelineRun(ws, run.id)
    assert reaped.status == "Failed" and "died" in (reaped.error or "")
    assert reaped.steps["total"].status == "Failed"


def test_cli_explain_and_gc(tmp_path: Path) -> None:
    files = Path(__file__).parents[1] / "cli_files"
    ws = str(tmp_path / "ws")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "headrace.engine.cli", *args, "-w", ws],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("run", str(files / "one.py"), "-p", "x=2").returncode == 0
    assert cli("run", str(files / "one.py"), "-p", "x=3").returncode == 0
    run_id = Workspace(ws).history.list_runs()[0]["id"]
    out = cli("runs", "explain", run_id).stdout
    assert "square: completed — parameter x changed 2 → 3" in out
    assert "fail_if: completed — upstream output changed" in out
    bad = cli("runs", "explain", run_id, "sqare")
    assert bad.returncode == 2 and "has no step 'sqare'. Did you mean 'square'?" in bad.stderr
    shown = cli("runs", "show", run_id).stdout
    assert "parameter x changed 2 → 3" in " ".join(shown.split())
    gc = cli("gc", "--keep-last", "1")
    assert gc.returncode == 0 and "1 runs forgotten" in gc.stdout and "freed" in gc.stdout
    assert cli("gc", "--older-than", "soon").returncode == 2


def test_collect_forgets_a_run_whose_process_died(ws: Workspace) -> None:
    old = chain.submit(workspace=ws)
    chain.submit(workspace=ws, regenerate_outputs=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with ws.history.transaction() as c:  # killed mid-run: still recorded as running
        c.execute("UPDATE runs SET status='Running', pid=? WHERE id=?", (int(dead.stdout), old.id))
    report = collect(ws, keep_last=1)
    assert report.runs == [old.id]  # was [] : kept forever as "running"
    assert ws.history.get_run(old.id) is None
