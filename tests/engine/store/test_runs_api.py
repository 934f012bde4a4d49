"""The Python API for past runs: Workspace.runs()/run(), outputs, logs, code context."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headrace.engine import HeadraceError, Workspace, component, pipeline
from headrace.engine.definitions.loader import load_pipeline
from headrace.engine.store.gc import collect
from tests.engine.dags import chain, failing_branch


def test_runs_filters_and_run_by_id(ws) -> None:
    first = chain.submit(params={"n": 3}, workspace=ws)
    failed = failing_branch.submit(params={"seconds": 0.01}, workspace=ws)
    later = chain.submit(params={"n": 4}, workspace=ws)
    assert [r.id for r in ws.runs()] == [later.id, failed.id, first.id]
    assert [r.id for r in ws.runs(pipeline="chain")] == [later.id, first.id]
    assert [r.id for r in ws.runs(status="failed")] == [failed.id]
    assert [r.id for r in ws.runs(status="Completed", limit=1)] == [later.id]
    assert ws.runs(since="1h") and not ws.runs(since=time.time() + 60)
    assert ws.runs(since="2000-01-01") and ws.run(first.id[:-2]).id == first.id
    assert ws.run(later.id).outputs["total"].load() == 4 * 3 / 2 * 2
    with pytest.raises(
        HeadraceError, match="status= 'done' is not a run status; give one of Running, Completed"
    ):
        ws.runs(status="done")
    with pytest.raises(HeadraceError, match="since= 'yesterday' is not a point in time"):
        ws.runs(since="yesterday")
    with pytest.raises(HeadraceError, match="no run has the id 'nope'"):
        ws.run("nope")


def test_a_run_id_prefix_is_literal(ws) -> None:
    """``%`` and ``_`` are characters of an id, not SQL patterns: a mistyped id never picks
    (or cancels) a run it is not a prefix of; several matches are listed."""
    run = chain.submit(params={"n": 3}, workspace=ws)
    other = chain.submit(params={"n": 4}, workspace=ws)
    day = run.id.split("-")[0]
    for typo in (f"%{run.id[-6:]}", run.id.replace("-", "_", 1), "%", "_", ""):
        with pytest.raises(HeadraceError, match="no run has the id"):
            ws.run(typo)
    assert ws.run(run.id[:-1]).id == run.id
    with pytest.raises(HeadraceError, match=r"2 runs have ids that start with") as err:
        ws.run(day)
    assert run.id in str(err.value) and other.id in str(err.value)


def test_outputs_and_logs_of_a_past_run(tmp_path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        run_id = chain.submit(params={"n": 5}, workspace=ws).id
    with Workspace(tmp_path / "ws") as again:  # a later session
        run = again.run(run_id)
        assert run.outputs["total"].load() == 20.0
        assert run.steps["scale"].metrics == {"rows": 5}
        assert run.steps["scale"].logs == ""  # ran, printed nothing
        assert [a.number for a in run.steps["scale"].attempt_history] == [1]


@component
def same(x: int) -> int:
    print(f"computing {x}")
    time.sleep(0.2)
    return x + 1


@component
def both(a: int, b: int) -> int:
    return a + b


@pipeline(name="twins")
def twins(x: int = 1):
    return {"sum": both(a=same(x=x), b=same(x=x))}


def test_two_steps_with_the_same_cache_key_compute_once(ws) -> None:
    run = twins.submit(workspace=ws)
    assert run.status == "Completed" and run.outputs["sum"].load() == 4
    first, second = run.steps["same"], run.steps["same_2"]
    assert not first.reused and first.logs == "computing 1\n"
    assert second.reused and second.reused_from == run.id and second.attempt_history == []
    assert second.reason == "reused from step same of this run (same cache key)"
    assert second.outputs["output"].fingerprint == first.outputs["output"].fingerprint


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


PIPELINE_FILE = """
from headrace.engine import component, pipeline

@component
def double(x: int) -> int:
    return x * VERSION

VERSION = 2

@pipeline(name="coded")
def coded(x: int = 1):
    return {"y": double(x=x)}
"""


def test_code_context_commit_dirty_and_snapshot(tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "flows").mkdir(parents=True)
    source = repo / "flows" / "coded.py"
    source.write_text(textwrap.dedent(PIPELINE_FILE))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "first")
    commit = _git(repo, "rev-parse", "HEAD")
    with Workspace(tmp_path / "ws") as ws:
        clean = load_pipeline(str(source)).submit(workspace=ws)
        source.write_text(textwrap.dedent(PIPELINE_FILE).replace("VERSION = 2", "VERSION = 3"))
        dirty = load_pipeline(str(source)).submit(workspace=ws)
        assert clean.code is not None and dirty.code is not None
        assert (clean.code["commit"], clean.code["dirty"]) == (commit, False)
        assert (dirty.code["commit"], dirty.code["dirty"]) == (commit, True)
        assert clean.code["files"] == ["flows/coded.py"] and clean.source == f"{source}:coded"
        for run, version in ((clean, "2"), (dirty, "3")):
            snap = Path(ws.store.local_path(_snapshot(ws, run.id)))
            assert f"VERSION = {version}" in (snap / "flows" / "coded.py").read_text()
        # the snapshot is kept with its run and goes when the run is forgotten
        collect(ws, keep_last=1)
        assert _snapshot(ws, dirty.id).fingerprint == dirty.code["snapshot"]
        assert not any(r for r in ws.history.get_outputs(clean.id))


def _snapshot(ws, run_id):
    (record,) = [rec for step, name, rec in ws.history.get_outputs(run_id) if step == ""]
    return record


def test_a_workspace_from_before_logs_and_code_is_migrated(tmp_path) -> None:
    """An existing database gets the new columns and table; its runs stay readable."""
    with Workspace(tmp_path / "ws") as ws:
        old = chain.submit(workspace=ws)
    db = sqlite3.connect(tmp_path / "ws" / "headrace.db")
    db.execute("DROP TABLE step_attempts")
    db.execute("DROP TRIGGER step_attempts_forget")
    for column in ("code", "cancel_requested"):
        db.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    db.commit()
    db.close()
    with Workspace(tmp_path / "ws") as ws:
        before = ws.run(old.id)
        assert before.code is None and before.steps["total"].logs == ""
        new = chain.submit(params={"n": 2}, workspace=ws)
        assert new.code is not None and new.steps["total"].attempt_history
        version = ws.history.query("SELECT value FROM meta WHERE key='schema_version'")
        assert version == [{"value": "1"}]


CANCELED_LATER = """
import sys, time
from headrace.engine import Workspace, component, pipeline

@component
def sleepy(s: float) -> float:
    print("sleeping", flush=True)
    time.sleep(s)
    return s

@pipeline(name="sleepy")
def sleepy_pipeline(s: float = 60):
    return {"s": sleepy(s=s)}

if __name__ == "__main__":
    run = sleepy_pipeline.submit(workspace=sys.argv[1], run_id="to-cancel")
    print(run.status, run.error)
"""


@pytest.mark.slow
def test_a_run_in_another_process_is_canceled_by_request(tmp_path) -> None:
    script = tmp_path / "sleepy.py"
    script.write_text(CANCELED_LATER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "ws")], stdout=subprocess.PIPE, text=True
    )
    with Workspace(tmp_path / "ws") as ws:
        deadline = time.time() + 30
        while ws.history.run_status("to-cancel") is None and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert ws.history.request_cancel("to-cancel", "asked by the test")
        out, _ = proc.communicate(timeout=20)
        assert out.splitlines() == ["[sleepy] sleeping", "Canceled asked by the test"]
        run = ws.run("to-cancel")
        (attempt,) = run.steps["sleepy"].attempt_history
        assert (attempt.ok, attempt.error, attempt.logs) == (
            False,
            "Canceled: asked by the test",
            "sleeping\n",
        )
        assert not ws.history.request_cancel("to-cancel", "again")  # over: nothing to ask


@pytest.mark.slow
def test_the_readme_snippet_for_past_runs_runs_as_written(tmp_path) -> None:
    root = Path(__file__).parents[3]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Past runs from Python") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 30)]
    ws = tmp_path / "ws"
    env = {**os.environ, "HEADRACE_HOME": str(ws)}
    submit = "from examples.quickstart import training; training.submit(params={'reg_rate': 0.1})"
    done = subprocess.run(
        [sys.executable, "-c", submit], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "{'reg_rate': 0.1" in lines[0] and lines[-2] == "[None]" and "'commit'" in lines[-1]


def test_a_snapshot_deleted_before_its_run_is_recorded_is_written_again(
    tmp_path, monkeypatch
) -> None:
    """A gc between the snapshot's write and the run's record (when the run's lease does not
    count yet) deletes a copy shared with a forgotten run: the run writes it again."""
    source = tmp_path / "coded.py"
    source.write_text(textwrap.dedent(PIPELINE_FILE))
    with Workspace(tmp_path / "ws") as ws:
        first = load_pipeline(str(source)).submit(workspace=ws)
        record = _snapshot(ws, first.id)
        create_run = ws.history.create_run

        def gc_first(*args, **kwargs):  # what that gc does: forget the run, delete its files
            collect(ws, keep_last=0)
            assert not ws.store.exists(record)
            return create_run(*args, **kwargs)

        monkeypatch.setattr(ws.history, "create_run", gc_first)
        again = load_pipeline(str(source)).submit(workspace=ws)
        assert again.code is not None and again.code["snapshot"] == record.fingerprint
        assert ws.store.exists(_snapshot(ws, again.id))
