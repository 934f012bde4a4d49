"""Run history: runs and step rows, finishing a step with outputs, metrics and cache, reaping."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from headrace.engine.errors import RunExistsError
from headrace.engine.status import Status
from headrace.engine.store.artifacts import ArtifactRecord
from headrace.engine.store.history import History
from headrace.engine.store.run_writes import finish_step_op, update_steps_op


def _run(run_id: str, pid: int | None = None) -> dict:
    return {
        "id": run_id,
        "pipeline": "p",
        "status": Status.RUNNING,
        "params": {"k": 1},
        "created_at": time.time(),
        "pid": pid,
    }


@pytest.fixture
def history(tmp_path: Path) -> History:
    h = History(tmp_path / "h.db")
    yield h
    h.close()


def test_a_run_has_one_not_started_row_per_step_in_order(history: History) -> None:
    history.create_run(_run("r1"), [("load", "load"), ("train", "fit")])
    steps = history.get_steps("r1")
    assert [(s["step"], s["component"], s["status"]) for s in steps] == [
        ("load", "load", "NotStarted"),
        ("train", "fit", "NotStarted"),
    ]
    assert history.get_run("r1")["params"] == {"k": 1}


def test_a_run_id_is_recorded_once(history: History) -> None:
    history.create_run(_run("r1"), [])
    with pytest.raises(RunExistsError, match="'r1' already exists"):
        history.create_run(_run("r1"), [])


def test_unknown_fields_are_refused(history: History) -> None:
    history.create_run(_run("r1"), [("a", "a")])
    with pytest.raises(ValueError, match="unknown run fields"):
        history.update_run("r1", colour="red")
    with pytest.raises(ValueError, match="unknown step fields"):
        history.update_steps("r1", [("a", {"colour": "red"})])


def test_finishing_a_step_records_outputs_metrics_and_the_cache_entry(history: History) -> None:
    history.create_run(_run("r1"), [("a", "a")])
    rec = ArtifactRecord("f" * 32, "parameter", "json", "/x/value.json", 3)
    with history.transaction() as c:
        finish_step_op(
            c,
            "r1",
            "a",
            {"status": Status.COMPLETED},
            [("output", rec)],
            [("loss", 0.5, 1.0), ("loss", 0.25, 2.0)],
            "key-1",
        )
    assert history.get_outputs("r1") == [("a", "output", rec)]
    assert [m["value"] for m in history.get_metrics("r1", "a")] == [0.5, 0.25]
    assert history.query("SELECT run_id, step FROM cache WHERE key='key-1'") == [
        {"run_id": "r1", "step": "a"}
    ]
    history.create_run(_run("r2"), [("a", "a")])
    with history.transaction() as c:  # a reused step shows the metrics of the run it reused
        finish_step_op(
            c, "r2", "a", {"status": Status.COMPLETED}, [("output", rec)], (), None, ("r1", "a")
        )
    assert [m["value"] for m in history.get_metrics("r2", "a")] == [0.5, 0.25]


def test_runs_are_listed_newest_first_and_found_by_prefix(history: History) -> None:
    for rid in ("20260101-a", "20260102-b", "20260103-c"):
        history.create_run(_run(rid), [])
        time.sleep(0.01)
    assert [r["id"] for r in history.list_runs()] == ["20260103-c", "20260102-b", "20260101-a"]
    assert history.find_run_ids("20260102") == ["20260102-b"]
    assert [r["id"] for r in history.list_runs(limit=1)] == ["20260103-c"]


def test_a_run_whose_process_died_is_reaped(history: History) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    history.create_run(_run("dead", pid=child.pid), [("a", "a"), ("b", "b"), ("c", "c")])
    with history.transaction() as c:
        update_steps_op(
            c, "dead", [("a", {"status": Status.COMPLETED}), ("b", {"status": Status.RUNNING})]
        )
    assert history.reap_dead_runs() == ["dead"]
    assert history.get_run("dead")["status"] == "Failed"
    assert [s["status"] for s in history.get_steps("dead")] == ["Completed", "Failed", "Skipped"]
    assert history.reap_dead_runs() == []


def test_a_run_of_a_live_process_is_not_reaped(history: History) -> None:
    import os

    history.create_run(_run("live", pid=os.getpid()), [])
    assert history.reap_dead_runs() == []
    assert history.get_run("live")["status"] == "Running"
