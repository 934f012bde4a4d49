"""History writes applied together leave the database as applying them one by one does."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headrace.engine.status import Status
from headrace.engine.store.artifacts import ArtifactRecord
from headrace.engine.store.history import History
from headrace.engine.store.run_writes import (
    finish_step_op,
    record_attempt_op,
    update_run_op,
    update_steps_op,
)

STEPS = [f"s{i}" for i in range(6)]
TABLES = ("runs", "step_runs", "metrics", "artifacts", "step_outputs", "cache", "step_attempts")


def _new_history(path: Path) -> History:
    h = History(path)
    for run_id in ("old", "r1"):
        h.create_run(
            {
                "id": run_id,
                "pipeline": "p",
                "status": Status.RUNNING,
                "params": {},
                "created_at": 1.0,
                "pid": None,
            },
            [(s, "c") for s in STEPS],
        )
    with h.transaction() as c:  # the run a reused step copies its metrics from
        c.execute("INSERT INTO metrics VALUES ('old', 's1', 'acc', 0, '0.5', 2.0)")
        c.execute("INSERT INTO metrics VALUES ('old', 's1', 'acc', 1, '0.7', 3.0)")
    return h


def _record(n: int) -> ArtifactRecord:
    return ArtifactRecord(f"fp{n}", "parameter", "json", f"inline:{n}", 1)


def _ops():
    step = st.sampled_from(STEPS[:3])  # few: ops often meet on a step
    fields = st.fixed_dictionaries(
        {"status": st.sampled_from(["Running", "Completed", "Failed"])},
        optional={
            "started_at": st.floats(0, 10),
            "reason": st.text(max_size=5),
            "attempts": st.integers(0, 3),
            "inputs": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        },
    )
    started = st.builds(lambda s, f: (update_steps_op, ("r1", [(s, f)])), step, fields)
    finished = st.builds(
        lambda s, f, outs, metrics, key, copy: (
            finish_step_op,
            (
                "r1",
                s,
                f,
                [(f"o{i}", _record(n)) for i, n in enumerate(outs)],
                [(name, v, 1.0) for name, v in metrics],
                key,
                ("old", "s1") if copy == "old" else ("r1", "s0") if copy == "twin" else None,
            ),
        ),
        step,
        fields,
        st.lists(st.integers(0, 3), max_size=2),
        st.lists(st.tuples(st.sampled_from(["loss", "acc"]), st.integers(0, 9)), max_size=3),
        st.none() | st.sampled_from(["k1", "k2"]),
        st.sampled_from([None, "old", "twin"]),
    )
    attempt = st.builds(
        lambda s, a, ok: (record_attempt_op, ("r1", s, a, ok, (1.0, 2.0), None, "log", 3)),
        step,
        st.integers(1, 3),
        st.booleans(),
    )
    run = st.builds(lambda t: (update_run_op, ("r1", {"started_at": t})), st.floats(0, 10))
    return st.lists(st.one_of(started, finished, attempt, run), min_size=1, max_size=25)


def _dump(path: Path) -> dict[str, list[tuple]]:
    c = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES:
            rows = c.execute(f"SELECT * FROM {table}").fetchall()
            # when a row was written is not what is compared
            out[table] = sorted(
                tuple(
                    x
                    for i, x in enumerate(r)
                    if not (table in ("artifacts", "cache") and i == len(r) - 1)
                )
                for r in rows
            )
        return out
    finally:
        c.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops())
def test_ops_applied_together_equal_ops_applied_in_turn(tmp_path_factory, ops) -> None:
    root = tmp_path_factory.mktemp("w")
    one, together = _new_history(root / "one.db"), _new_history(root / "together.db")
    for op, args in ops:
        with one.transaction() as c:
            op(c, *args)
    writer = together.writer()
    for op, args in ops:
        writer.put(op, *args)
    writer.close()
    one.close()
    together.close()
    assert _dump(root / "one.db") == _dump(root / "together.db")


def test_a_run_of_thousands_of_steps_is_split_into_statements_sqlite_accepts(tmp_path) -> None:
    n = 2_345
    h = History(tmp_path / "h.db")
    h.create_run(
        {"id": "r", "pipeline": "p", "status": "Running", "params": {}, "created_at": 1.0},
        [(f"s{i}", "c") for i in range(n)],
    )
    writer = h.writer()
    now = time.time()
    for i in range(n):
        fields = {"status": "Completed", "reason": f"r{i}", "finished_at": now, "inputs": {"i": i}}
        writer.put(
            finish_step_op, "r", f"s{i}", fields, [("out", _record(i))], [("m", i, now)], f"k{i}"
        )
    writer.close()
    steps = {s["step"]: s for s in h.get_steps("r")}
    assert all(steps[f"s{i}"]["reason"] == f"r{i}" for i in range(n))
    assert steps["s7"]["inputs"] == '{"i": 7}'
    assert len(h.get_metrics("r")) == n
    assert {s for s, _, _ in h.get_outputs("r")} == set(steps)
    h.close()


def test_one_bad_write_in_a_batch_fails_alone(tmp_path) -> None:
    h = _new_history(tmp_path / "h.db")
    writer = h.writer()
    writer.put(finish_step_op, "r1", "s0", {"status": "Completed"})
    writer.put(finish_step_op, "r1", "s1", {"colour": "red"})
    writer.put(finish_step_op, "r1", "s2", {"status": "Failed"})
    with pytest.raises(ValueError, match=r"unknown step fields \['colour'\]"):
        writer.close()
    status = {s["step"]: s["status"] for s in h.get_steps("r1")}
    assert (status["s0"], status["s1"], status["s2"]) == ("Completed", "NotStarted", "Failed")
    h.close()


def test_a_twin_copies_the_metrics_its_twin_logged_in_the_same_batch(tmp_path) -> None:
    h = _new_history(tmp_path / "h.db")
    writer = h.writer()
    writer.put(finish_step_op, "r1", "s0", {"status": "Completed"}, [], [("loss", 3, 1.0)])
    writer.put(finish_step_op, "r1", "s4", {"status": "Completed"}, [], [], None, ("r1", "s0"))
    writer.put(finish_step_op, "r1", "s5", {"status": "Completed"}, [], [], None, ("old", "s1"))
    writer.close()
    assert [(m["step"], m["value"]) for m in h.get_metrics("r1", "s4")] == [("s4", 3)]
    assert [m["value"] for m in h.get_metrics("r1", "s5")] == [0.5, 0.7]
    h.close()


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (
            (finish_step_op, ("r1", "s0", {"status": None, "reason": "bad"}, [("o", _record(1))])),
            "'status' cannot be None",
        ),
        ((update_steps_op, ("r1", [("s0", {"reason": {"a": 1}})])), "'reason' is a dict"),
        ((update_steps_op, ("r1", [("s0", {})])), "at least one field"),
        ((update_run_op, ("r1", {})), "at least one field"),
    ],
)
def test_a_bad_write_fails_alone_though_a_later_write_sets_the_same_columns(
    tmp_path, bad, error
) -> None:
    """Merged with a later write to the same row, the bad one must not be hidden."""
    h = _new_history(tmp_path / "h.db")
    writer = h.writer()
    writer.put(bad[0], *bad[1])
    writer.put(update_steps_op, "r1", [("s0", {"status": "Completed", "reason": "fine"})])
    writer.put(update_run_op, "r1", {"started_at": 5.0})
    with pytest.raises(ValueError, match=error):
        writer.close()
    (s0,) = [s for s in h.get_steps("r1") if s["step"] == "s0"]
    assert (s0["status"], s0["reason"]) == ("Completed", "fine")
    assert h.get_outputs("r1") == [] and h.get_run("r1")["started_at"] == 5.0
    h.close()


def test_statements_stay_within_the_connections_variable_limit(tmp_path) -> None:
    h = _new_history(tmp_path / "h.db")
    h._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # as some SQLite builds have
    writer = h.writer()
    outputs = [(f"o{i}", _record(i)) for i in range(200)]  # 1,400 artifact variables
    writer.put(finish_step_op, "r1", "s0", {"status": "Completed"}, outputs)
    writer.put(finish_step_op, "r1", "s1", {"status": "Completed"}, outputs)
    writer.close()
    assert len(h.get_outputs("r1")) == 400
    h.close()


def test_sqlite_before_update_from_gets_the_same_rows(tmp_path, monkeypatch) -> None:
    """SQLite before 3.33 has no ``UPDATE ... FROM``: one statement per row instead."""
    from headrace.engine.store import run_writes

    monkeypatch.setattr(run_writes, "_UPDATE_FROM", False)
    test_a_run_of_thousands_of_steps_is_split_into_statements_sqlite_accepts(tmp_path)
