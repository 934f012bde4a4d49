"""Failures: failed items, short results, raising and flaky mini-batches, timeouts, workers that
exit, init() raising; thresholds fail the step with one message naming counts and threshold."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headrace.engine import Workspace, parallel_run, pipeline
from tests.engine.parallel.pipelines import ENTRIES, calls, write_files

behave = parallel_run(
    entry=ENTRIES / "behave.py",
    name="behave",
    mini_batch_size=2,
    max_concurrency=2,
    run_max_try=2,
    run_invocation_timeout=2,
)


@pipeline(name="behave")
def behaving(folder: Path, counter: str, error_threshold: int = -1, allowed_failed_count: int = -1):
    step = behave(
        data=folder,
        counter=counter,
        error_threshold=error_threshold,
        allowed_failed_count=allowed_failed_count,
    )
    return {"results": step.outputs.results}


def _submit(ws: Workspace, folder: Path, counter: Path, **params):
    return behaving.submit(
        params={"folder": str(folder), "counter": str(counter), **params}, workspace=ws
    )


def test_failed_items_raising_flaky_timed_out_and_exiting_batches(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    # mini-batches of 2, sorted: [exit_a, fail_b] [flaky_c, ok_d] [ok_e, raise_f] [sleep_g, z_h]
    write_files(
        folder, ["exit_a", "fail_b", "flaky_c", "ok_d", "ok_e", "raise_f", "sleep_g", "z_h"]
    )
    started = time.monotonic()
    run = _submit(ws, folder, counter)
    assert run.status == "Completed", run.steps["behave"].error
    assert time.monotonic() - started < 40
    results = run.outputs["results"].load()
    assert results["file"].tolist() == ["flaky_c", "ok_d"]  # the only fully scored batch
    assert results["size"].tolist() == [len("flaky_c:x"), len("ok_d:x")]
    step = run.steps["behave"]
    assert step.metrics["items"] == 8 and step.metrics["mini_batches"] == 4
    assert step.metrics["mini_batches_failed"] == 3  # exit, raise, sleep: every attempt failed
    assert step.metrics["items_failed"] == 6
    by_id = {b["id"]: b for b in step.batches}
    assert by_id[0]["status"] == "Failed" and by_id[0]["attempts"] == 2
    assert "WorkerDied" in by_id[0]["error"] and "exit code 7" in by_id[0]["error"]
    assert by_id[1]["status"] == "Completed" and by_id[1]["attempts"] == 2  # flaky, then ok
    assert "ValueError: cannot score ok_e" in by_id[2]["error"]
    assert "TimeoutError" in by_id[3]["error"] and "run_invocation_timeout=2s" in by_id[3]["error"]
    assert len(calls(counter)) == 8  # 2 attempts each


def test_error_threshold_fails_with_counts_and_threshold(ws: Workspace, tmp_path: Path) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    names = ["fail_a", "fail_b", "ok_c", "ok_d", "ok_e", "ok_f"]
    write_files(folder, names)
    run = _submit(ws, folder, counter, error_threshold=1)
    assert run.status == "Failed"
    error = run.steps["behave"].error
    assert "2 of 6 items failed in 1 of 3 mini-batches; error_threshold is 1" in error
    assert "mini-batch 0 (items fail_a, fail_b): 2 of 2 items returned no result" in error
    committed = {
        b["id"]
        for b in run.steps["behave"].batches
        if b["status"] == "Completed" and not b["items_failed"]
    }
    # a re-run scores only what has no committed result (the partial and unfinished ones)
    for p in counter.glob("*"):
        p.unlink()
    again = _submit(ws, folder, counter, error_threshold=-1).raise_for_status()
    expected = [names[2 * i : 2 * i + 2] for i in range(3) if i not in committed]
    assert sorted(calls(counter)) == expected
    assert again.outputs["results"].load()["file"].tolist() == names[2:]
    assert again.steps["behave"].metrics["mini_batches_reused"] == len(committed)


def test_allowed_failed_count(ws: Workspace, tmp_path: Path) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, ["raise_a", "raise_b", "raise_c", "raise_d"])
    run = _submit(ws, folder, counter, allowed_failed_count=1)
    assert run.status == "Failed"
    error = run.steps["behave"].error
    assert "4 of 4 items failed in 2 of 2 mini-batches; allowed_failed_count is 1" in error
    assert "ValueError: cannot score raise_a" in error  # the entry's traceback is included
    assert 'behave.py", line' in error


def test_a_mini_batch_with_failed_items_is_a_failed_mini_batch(
    ws: Workspace, tmp_path: Path
) -> None:
    """run() returning no result for an item fails its mini-batch for allowed_failed_count
    (Azure's rule for fewer results than items); the other items' results are kept."""
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, ["fail_a", "ok_b", "ok_c", "ok_d"])
    run = _submit(ws, folder, counter, allowed_failed_count=0)
    assert run.status == "Failed"
    error = run.steps["behave"].error
    assert "1 of 4 items failed in 1 of 2 mini-batches; allowed_failed_count is 0" in error
    step = run.steps["behave"]
    assert step.metrics["mini_batches_failed"] == 1 and step.metrics["items_failed"] == 1
    tolerated = _submit(ws, folder, counter, allowed_failed_count=1).raise_for_status()
    assert tolerated.outputs["results"].load()["file"].tolist() == ["ok_b", "ok_c", "ok_d"]


percent = parallel_run(
    entry=ENTRIES / "behave.py",
    name="pct",
    mini_batch_size=1,
    allowed_failed_percent=20,
    run_max_try=1,
    max_concurrency=2,
)


@pipeline(name="pct")
def by_percent(folder: Path, counter: str):
    return {"results": percent(data=folder, counter=counter).outputs.results}


def test_allowed_failed_percent_is_checked_at_the_end(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_files(folder, ["a_ok", "b_ok", "c_ok", "raise_d", "raise_e"])
    run = by_percent.submit(
        params={"folder": str(folder), "counter": str(tmp_path / "c")}, workspace=ws
    )
    assert run.status == "Failed"
    assert (
        "2 of 5 items failed in 2 of 5 mini-batches; allowed_failed_percent is 20"
        in run.steps["pct"].error
    )
    assert len(calls(tmp_path / "c")) == 5  # every mini-batch was tried first
    assert [b["status"] for b in run.steps["pct"].batches].count("Completed") == 3


short = parallel_run(entry=ENTRIES / "short.py", name="short", mini_batch_size=3, max_concurrency=1)


@pipeline(name="short")
def shorts(folder: Path):
    return {"results": short(data=folder).outputs.results}


def test_short_list_results_count_as_failed_items(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_files(folder, ["a", "b", "c", "d", "short_e", "f"])
    run = shorts.submit(params={"folder": str(folder)}, workspace=ws).raise_for_status()
    results = run.outputs["results"].load()
    assert results.columns.tolist() == ["file", "result"]
    # sorted: [a, b, c] [d, f, short_e]; the short list is keyed to the first items in order
    assert results["result"].tolist() == ["A", "B", "C", "D", "F"]
    assert run.steps["short"].metrics["items_failed"] == 1
    assert "1 of 3 items returned no result" in run.steps["short"].batches[1]["error"]


init_raises = parallel_run(entry=ENTRIES / "init_raises.py", name="bad_init", max_concurrency=2)
init_exits = parallel_run(entry=ENTRIES / "init_exits.py", name="bad_init", max_concurrency=2)


@pipeline(name="bad-init")
def bad_init(folder: Path):
    return {"results": init_raises(data=folder).outputs.results}


@pipeline(name="exit-init")
def exit_init(folder: Path):
    return {"results": init_exits(data=folder).outputs.results}


@pytest.mark.parametrize(
    ("pipe", "text"),
    [
        (bad_init, r"init\(\) of the entry .*init_raises.py raised RuntimeError: the model file"),
        (exit_init, "a worker process exited \\(exit code 5\\) while importing the entry"),
    ],
)
def test_init_failing_fails_the_step_quickly(ws: Workspace, tmp_path: Path, pipe, text) -> None:
    write_files(tmp_path / "in", [f"f{i}" for i in range(20)])
    started = time.monotonic()
    run = pipe.submit(params={"folder": str(tmp_path / "in")}, workspace=ws)
    assert time.monotonic() - started < 20
    assert run.status == "Failed"
    step = run.steps["bad_init"]
    assert step.error.startswith("ParallelRunError")
    import re

    assert re.search(text, step.error)
    if pipe is bad_init:
        assert 'init_raises.py", line 5, in init' in step.error


one_worker = parallel_run(
    entry=ENTRIES / "behave.py",
    name="behave",
    mini_batch_size=2,
    max_concurrency=1,
    run_max_try=2,
)


@pipeline(name="behave-one-worker")
def behaving_on_one_worker(folder: Path, counter: str):
    return {"results": one_worker(data=folder, counter=counter).outputs.results}


def test_mini_batches_queued_behind_one_whose_worker_exits_count_no_attempt(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    # quick mini-batches, so a second one waits on the worker behind the running one
    write_files(folder / "a", [f"ok_{i:02d}" for i in range(6)])
    write_files(folder / "b", ["exit_0", "ok_50"])
    write_files(folder / "c", [f"ok_{i}" for i in range(60, 66)])
    params = {"folder": str(folder), "counter": str(counter)}
    run = behaving_on_one_worker.submit(params=params, workspace=ws)
    assert run.status == "Completed", run.steps["behave"].error
    batches = run.steps["behave"].batches
    assert [(b["status"], b["attempts"]) for b in batches] == [("Completed", 1)] * 3 + [
        ("Failed", 2)
    ] + [("Completed", 1)] * 3
    assert len(calls(counter)) == 6 + 2  # each other mini-batch ran once
    names = run.outputs["results"].load()["file"].tolist()
    assert names == [f"a/ok_{i:02d}" for i in range(6)] + [f"c/ok_{i}" for i in range(60, 66)]


shuts_down = parallel_run(entry=ENTRIES / "shuts_down.py", name="shuts", max_concurrency=2)


@pipeline(name="shuts-down")
def shutting_down(folder: Path, counter: str):
    return {"results": shuts_down(data=folder, counter=counter, mini_batch_size=1).outputs.results}


def test_every_started_worker_runs_shutdown_and_atexit_before_the_step_ends(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, [f"ok_{i}" for i in range(6)])
    run = shutting_down.submit(
        params={"folder": str(folder), "counter": str(counter)}, workspace=ws
    )
    assert run.raise_for_status().outputs["results"].load()["file"].tolist() == [
        f"ok_{i}" for i in range(6)
    ]
    scored = {b["worker"].rsplit(":", 1)[-1] for b in run.steps["shuts"].batches}
    for pid in scored:  # already there when the step returned
        assert (counter / f"shutdown-{pid}").exists()
        assert (counter / f"atexit-{pid}").exists()


def test_a_step_that_completed_with_failed_items_tries_them_again_next_run(
    ws: Workspace, tmp_path: Path
) -> None:
    """Its results are not cached as the step's: the next run with the same inputs runs the
    step, which reuses the committed mini-batches and scores the failed one again."""
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, ["ok_a", "ok_b", "fail_c", "ok_d"])
    first = _submit(ws, folder, counter).raise_for_status()
    assert first.steps["behave"].metrics["items_failed"] == 1
    assert "not cached: 1 item failed" in first.steps["behave"].reason
    before = calls(counter)
    again = _submit(ws, folder, counter).raise_for_status()
    step = again.steps["behave"]
    assert not step.reused and step.metrics["mini_batches_reused"] == 1
    assert sorted(calls(counter)) == sorted([*before, ["fail_c", "ok_a"]])
    assert again.outputs["results"].load()["file"].tolist() == ["ok_a", "ok_b", "ok_d"]
    (folder / "fail_c").unlink()  # no failed item left: the next run is cached whole
    _submit(ws, folder, counter).raise_for_status()
    assert _submit(ws, folder, counter).raise_for_status().steps["behave"].reused
