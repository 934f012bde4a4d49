"""gc never deletes an artifact a running run has chosen to use but not yet committed.

2 of 120 runs failed with "missing from the store" under ``gc --keep-last 2`` beside 8
writers: between a run's reuse decision (or a worker finding its output already stored) and
the commit of that run's step outputs, gc saw the artifact unreferenced and deleted it. Runs
now lease what they are about to use (``store/leases.py``), and gc keeps leased artifacts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from headrace.engine import Status, Workspace, component, pipeline
from headrace.engine.store.gc import collect

FILES = Path(__file__).parent / "files"


PAD = "x" * 2000  # past INLINE_MAX: stored as a file, which gc can delete


@component
def make(n: int) -> str:
    return f"value {n} {PAD}"


@pipeline(name="leased")
def flow(n: int = 1):
    return {"out": make(n=n)}


def _running_run(ws: Workspace, run_id: str) -> None:
    """A run recorded as running, as the runner records one before its first step."""
    ws.history.create_run(
        {
            "id": run_id,
            "pipeline": "other",
            "experiment": "other",
            "status": Status.RUNNING.value,
            "params": {},
            "executor": "local",
            "regenerate_outputs": False,
            "created_at": time.time(),
            "pid": 1,
            "outputs": {},
        },  # fmt: skip
        [],
    )


def test_gc_keeps_an_artifact_a_running_run_leased(ws: Workspace) -> None:
    first = flow.submit(params={"n": 1}, workspace=ws)
    record = first.outputs["out"].record
    _running_run(ws, "r-reusing")
    ws.store.leases.take("r-reusing", record.fingerprint)  # decided to reuse, not committed
    report = collect(ws, keep_last=0)
    assert first.id in report.runs and record.fingerprint not in [
        a.fingerprint for a in report.artifacts
    ]
    assert ws.store.exists(record)
    ws.history.update_run("r-reusing", status=Status.COMPLETED.value, finished_at=time.time())
    report = collect(ws, keep_last=1)  # its lease ended with it; it never referred to the copy
    assert record.fingerprint in [a.fingerprint for a in report.artifacts]
    assert not ws.store.exists(record)
    assert not (Path(ws.store.root) / "leases" / "r-reusing").exists()


def test_a_deduplicated_write_leases_the_stored_copy(ws: Workspace) -> None:
    first = flow.submit(params={"n": 2}, workspace=ws)
    record = first.outputs["out"].record
    _running_run(ws, "r-dedup")
    again = ws.store.write(
        f"value 2 {PAD}", record.kind, str, lease="r-dedup"
    )  # found stored: kept
    assert again.fingerprint == record.fingerprint
    collect(ws, keep_last=0)
    assert ws.store.exists(record)


def test_leases_end_with_the_run(ws: Workspace) -> None:
    flow.submit(params={"n": 3}, workspace=ws)
    assert not any((Path(ws.store.root) / "leases").glob("*/*"))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_runs_beside_a_gc_loop_never_lose_an_artifact(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace(root).close()
    writers = [
        subprocess.Popen(
            [sys.executable, str(FILES / "reuse_writer.py"), str(root), "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    stop = threading.Event()
    collections = [0]

    def gc_loop() -> None:
        with Workspace(root) as ws:
            while not stop.is_set():
                collect(ws, keep_last=2)
                collections[0] += 1

    thread = threading.Thread(target=gc_loop)
    thread.start()
    try:
        outputs = [(w.wait(timeout=200), w.stdout.read()) for w in writers]  # type: ignore[union-attr]
    finally:
        stop.set()
        thread.join()
    assert collections[0] > 10
    bad = [out for code, out in outputs if code != 0]
    assert not bad, bad[0]


def test_a_run_that_commits_and_ends_while_gc_decides_keeps_its_artifact(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that found the artifact, committed its reference and ended (its lease gone)
    after gc deleted the row but before gc read the leases: gc counts references again."""
    first = flow.submit(params={"n": 5}, workspace=ws)
    record = first.outputs["out"].record
    leases = ws.store.leases
    doom = leases.doom
    during: list = []

    def run_then_doom(fingerprints: list[str]) -> None:
        if not during:  # the whole run fits between gc's row delete and its marks
            during.append(flow.submit(params={"n": 5}, workspace=ws))
        doom(fingerprints)

    monkeypatch.setattr(leases, "doom", run_then_doom)
    report = collect(ws, keep_last=0)
    assert first.id in report.runs and during and during[0].status == "Completed"
    assert record.fingerprint not in [a.fingerprint for a in report.artifacts]
    assert ws.store.exists(record)
    assert during[0].outputs["out"].load() == f"value 5 {PAD}"


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_keeps_an_orphan_a_running_run_has_found(ws: Workspace) -> None:
    """An unrecorded copy (left by a killed run) that a running run deduplicated onto."""
    record = ws.store.write(f"orphan {PAD}", "parameter", str)  # no row names it
    folder = Path(record.uri).parent
    _age(folder, 2 * 3600)
    _running_run(ws, "r-orphan")
    assert ws.store.write(f"orphan {PAD}", "parameter", str, lease="r-orphan") == record
    collect(ws)
    assert ws.store.exists(record)
    ws.history.update_run("r-orphan", status=Status.COMPLETED.value, finished_at=time.time())
    collect(ws)  # its run ended without recording it: an orphan again, and old
    assert not folder.exists()


def test_a_tombstone_left_by_a_dead_gc_blocks_nothing(ws: Workspace) -> None:
    first = flow.submit(params={"n": 6}, workspace=ws)
    record = first.outputs["out"].record
    tomb = Path(ws.store.root) / "leases" / "_gc" / record.fingerprint
    tomb.parent.mkdir(parents=True, exist_ok=True)
    tomb.touch()
    _age(tomb, 600)
    started = time.monotonic()
    assert ws.store.exists(record)
    assert time.monotonic() - started < 5  # not the waiter's two minutes
    tomb.touch()
    _age(tomb, 600)
    collect(ws)
    assert not tomb.exists()


def test_an_interrupted_gc_leaves_no_tombstone(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow.submit(params={"n": 7}, workspace=ws)

    def fail(record: object) -> int:
        raise OSError("the store went away")

    monkeypatch.setattr(ws.store, "delete", fail)
    with pytest.raises(OSError):
        collect(ws, keep_last=0)
    assert not any((Path(ws.store.root) / "leases" / "_gc").glob("*"))


def test_leases_taken_from_many_threads_are_all_kept(ws: Workspace) -> None:
    """More concurrent runs than open lease files: a thread's file is never closed under it."""
    leases = ws.store.leases
    errors: list[BaseException] = []

    def take(run: int) -> None:
        try:
            for i in range(300):
                leases.take(f"r{run}", f"fp-{run}-{i}")
        except BaseException as exc:  # an EBADF, or a write to another run's file
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(run,)) for run in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for run in range(24):
        assert leases.held({f"r{run}"}) == {f"fp-{run}-{i}" for i in range(300)}
