"""What is in a watched folder or a pipeline file never takes the daemon down or fools it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from headrace.engine import Workspace
from headrace.engine.status import Status
from headrace.engine.store.statcache import StatCache
from headrace.scheduler import TriggerSpec
from headrace.scheduler.launcher import INPUTS_DIR
from headrace.scheduler.source import open_source
from headrace.scheduler.store import RUN_FAULT, SchedulerStore
from headrace.scheduler.triggers import Watch

from .support import PIPELINES, DaemonProcess, create_trigger, headrace, ledger, runs, wait_for


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    ws, inbox, book = tmp_path / "ws", tmp_path / "in", tmp_path / "ledger.jsonl"
    inbox.mkdir()
    return ws, inbox, book


def _once(ws: Path) -> str:
    """``headrace daemon --once``: fire what is due, wait for the runs, exit 0; its log."""
    return headrace("daemon", "--once", "-w", str(ws)).stderr


def _bad_name(folder: Path, name: bytes) -> None:
    fd = os.open(os.path.join(os.fsencode(folder), name), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"bytes")
    os.close(fd)


# --- 8: names that are not UTF-8 ----------------------------------------------------------
def test_a_watch_skips_a_name_that_is_not_utf8(tmp_path, ws):
    _bad_name(tmp_path, b"bad\xff.csv")
    (tmp_path / "good.csv").write_text("good")
    cache = StatCache(ws.history.path)  # the daemon's: it cannot store such a name
    spec = TriggerSpec(str(tmp_path), glob="*.csv", poll=30, settle=0.05)
    watch = Watch("t", spec, {}, open_source(spec, cache))
    deadline = time.monotonic() + 5
    while (change := watch.check()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert change is not None and list(change.changed) == [str(tmp_path / "good.csv")]
    cache.close()


@pytest.mark.slow
def test_a_file_name_that_is_not_utf8_stops_neither_the_daemon_nor_its_trigger(tmp_path):
    ws, inbox, book = _setup(tmp_path)
    _bad_name(inbox, b"early\xfe.csv")  # there when the schedule is created
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}")
    _bad_name(inbox, b"bad\xff.csv")
    (inbox / "good.csv").write_text("good")
    log = _once(ws)
    assert "not valid UTF-8" in log and "bad\\xff.csv" in log
    _once(ws)  # a restarted daemon does not die either, and fires nothing twice
    assert [e["name"] for e in ledger(book)] == ["good.csv"]


# --- 8: a burst beyond the argument limit -------------------------------------------------
@pytest.mark.slow
def test_a_burst_longer_than_the_argument_limit_reaches_its_run(tmp_path):
    ws, inbox, book = _setup(tmp_path)
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}", "--glob", "*.csv")
    names = [f"{i:04}-{'long-name-' * 12}.csv" for i in range(1500)]
    assert sum(len(str(inbox / n)) + 1 for n in names) > 128 * 1024  # MAX_ARG_STRLEN
    for name in names:
        (inbox / name).write_text(name)
    _once(ws)
    (done,) = runs(ws)
    assert done["status"] == Status.COMPLETED
    assert sorted(e["name"] for e in ledger(book)) == names


# --- 8: user code that crashes at import -------------------------------------------------
@pytest.mark.slow
def test_a_pipeline_that_crashes_at_import_is_that_schedules_fault_alone(tmp_path):
    ws, inbox, book = _setup(tmp_path)
    other, other_book = tmp_path / "other", tmp_path / "other.jsonl"
    other.mkdir()
    flows = tmp_path / "user_flows.py"
    shutil.copy(PIPELINES, flows)
    headrace(
        "schedule", "create", "broken", "--pipeline", f"{flows}:on_files", "--on-change",
        str(inbox), "--settle", "0.2s", "-p", f"ledger={book}", "-w", str(ws),
    )  # fmt: skip
    create_trigger(ws, "fine", "on_files", other, "-p", f"ledger={other_book}")
    good = flows.read_text()
    crash = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"  # no loader stops it
    flows.write_text(crash + good)  # broken after it was scheduled
    daemon = DaemonProcess(ws, tmp_path / "daemon.log")
    try:
        (inbox / "a.csv").write_text("a")
        (other / "b.csv").write_text("b")

        def faults():
            with Workspace(ws) as w:
                return SchedulerStore(w.history).faults()

        wait_for(lambda: [e["name"] for e in ledger(other_book)] == ["b.csv"], 60)
        assert daemon.alive(), daemon.output()
        fault = wait_for(lambda: faults().get("broken"), 60)
        assert fault.source == RUN_FAULT and "ended (exit -9) before it started" in fault.error
        assert list(faults()) == ["broken"]  # the other schedule goes on
        flows.write_text(good)  # fixed: the retry (after the backoff) runs the same files
        wait_for(lambda: [e["name"] for e in ledger(book)] == ["a.csv"], 60)
        wait_for(lambda: "broken" not in faults(), 10)
        assert daemon.alive(), daemon.output()
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert "firing it again in" in daemon.output()


# --- 9: a comma in a name -----------------------------------------------------------------
@pytest.mark.slow
def test_a_comma_in_a_file_name_reaches_a_list_parameter_as_one_file(tmp_path):
    ws, inbox, book = _setup(tmp_path)
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}")
    for name in ("a,b.csv", "c.csv", "trail.csv "):
        (inbox / name).write_text(name)
    _once(ws)
    assert sorted((e["name"], e["text"]) for e in ledger(book)) == [
        ("a,b.csv", "a,b.csv"),
        ("c.csv", "c.csv"),
        ("trail.csv ", "trail.csv "),  # passed as paths, not text to strip
    ]


# --- 10: a Path parameter gets only what this firing changed ------------------------------
@pytest.mark.slow
def test_a_path_parameter_gets_only_the_files_of_its_firing(tmp_path):
    ws, inbox, book = _setup(tmp_path)
    create_trigger(ws, "inbox", "on_path", inbox, "-p", f"ledger={book}")
    bursts = [[f"b{b}-{i}.csv" for i in range(3)] for b in range(3)] + [["single.csv"]]
    (inbox / "sub").mkdir()
    for burst in bursts:
        for name in burst:
            (inbox / ("sub" if name.endswith("-2.csv") else "") / name).write_text(name)
        _once(ws)
    seen = ledger(book)
    assert sorted(e["name"] for e in seen) == sorted(n for b in bursts for n in b)  # once each
    by_run: dict[str, list[str]] = {}
    for e in seen:
        by_run.setdefault(e["run"], []).append(e["name"])
    assert sorted(sorted(v) for v in by_run.values()) == sorted(sorted(b) for b in bursts)
    done = [r for r in runs(ws) if r["status"] == Status.COMPLETED]
    assert len(done) == 4
    folders = sorted((ws / INPUTS_DIR).iterdir())
    assert len(folders) == 3  # the bursts of three; a burst of one gets the file itself
    assert sorted(p.name for p in folders[0].rglob("*")) == [
        "b0-0.csv",
        "b0-1.csv",
        "b0-2.csv",
        "sub",
    ]
    assert done[-1]["params"]["path"] == str(inbox / "single.csv")


# --- 11: links out of the watched folder --------------------------------------------------
def _drop_box(tmp_path: Path) -> tuple[Path, Path]:
    inbox, private = tmp_path / "in", tmp_path / "private"
    (inbox / "sub").mkdir(parents=True)
    (private / "folder").mkdir(parents=True)
    (private / "secret.csv").write_text("owner only")
    (private / "folder" / "x.csv").write_text("owner only")
    (inbox / "sub" / "real.csv").write_text("real")
    (inbox / "steal.csv").symlink_to(private / "secret.csv")
    (inbox / "loot").symlink_to(private / "folder", target_is_directory=True)
    (inbox / "alias.csv").symlink_to(inbox / "sub" / "real.csv")  # inside: counts
    (inbox / "again").symlink_to(inbox / "sub", target_is_directory=True)  # not descended
    return inbox, private


def test_a_local_source_does_not_follow_links_out_of_its_folder(tmp_path, caplog):
    inbox, _ = _drop_box(tmp_path)
    (inbox / "good.csv").write_text("good")
    source = open_source(TriggerSpec(str(inbox)))
    with caplog.at_level("WARNING", logger="headrace.scheduler"):
        listed = sorted(source.list())
        source.list()
    assert listed == sorted(str(inbox / n) for n in ("alias.csv", "good.csv", "sub/real.csv"))
    ignored = [r.getMessage() for r in caplog.records if "outside the folder" in r.getMessage()]
    assert len(ignored) == 2  # each link logged once, not at every poll


@pytest.mark.slow
def test_a_trigger_never_hands_a_run_a_file_a_link_takes_out_of_its_folder(tmp_path):
    ws = tmp_path / "ws"
    inbox, _ = _drop_box(tmp_path)
    book = tmp_path / "ledger.jsonl"
    (inbox / "first.csv").write_text("first")
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}")
    (inbox / "good.csv").write_text("good")
    (inbox / "later.csv").symlink_to(tmp_path / "private" / "secret.csv")
    log = _once(ws)
    assert "later.csv: it is a link to" in log
    assert sorted(e["name"] for e in ledger(book)) == ["good.csv"]
    assert all(e["text"] != "owner only" for e in ledger(book))
