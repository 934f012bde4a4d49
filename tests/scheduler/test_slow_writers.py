"""A file written slowly (1 s between chunks) never fires mid-write: close-write events, settle."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from headrace.scheduler import TriggerSpec
from headrace.scheduler.source import LOCAL_SETTLE, POLLED_SETTLE
from headrace.scheduler.triggers import EventHub, Watch

from .faults.support import DaemonProcess, create_trigger, ledger, runs, wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify close-write events")


def _write_slowly(path: Path, chunks: int, pause: float) -> None:
    with open(path, "w") as handle:
        for i in range(chunks):
            handle.write(f"chunk {i}\n")
            handle.flush()
            time.sleep(pause)


def test_a_file_still_open_for_writing_never_settles(tmp_path):
    wake = threading.Event()
    hub = EventHub(wake)
    watch = Watch("slow", TriggerSpec(str(tmp_path), poll=30, settle=LOCAL_SETTLE), {})
    assert watch.check() is None  # the first listing: an empty folder
    hub.add(watch)
    target = tmp_path / "big.csv"
    writer = threading.Thread(target=_write_slowly, args=(target, 3, 1.0))
    try:
        writer.start()
        seen = []
        while writer.is_alive():  # 3 s of writing with 1 s pauses, far over the 0.3 s settle
            change = watch.check()
            if change is not None:
                seen.append(change)
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:  # closed now: it settles
            change = watch.check()
            if change is not None:
                seen.append(change)
            time.sleep(0.05)
    finally:
        writer.join()
        hub.stop()
    assert len(seen) == 1, seen
    assert list(seen[0].changed) == [str(target)]
    assert target.read_text().count("chunk") == 3


def test_a_file_renamed_into_place_settles_without_a_close_event(tmp_path):
    inbox, staging = tmp_path / "in", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    hub = EventHub(threading.Event())
    watch = Watch("renamed", TriggerSpec(str(inbox), poll=30, settle=0.1), {})
    assert watch.check() is None
    hub.add(watch)
    try:
        (staging / "x.csv").write_text("done")
        (staging / "x.csv").rename(inbox / "x.csv")
        deadline = time.monotonic() + 5
        change = None
        while change is None and time.monotonic() < deadline:
            change = watch.check()
            time.sleep(0.02)
    finally:
        hub.stop()
    assert change is not None and list(change.changed) == [str(inbox / "x.csv")]


def test_polled_stores_settle_longer_by_default(tmp_path):
    assert TriggerSpec.build(tmp_path, "*", "30s", None, None, None).settle == LOCAL_SETTLE
    polled = TriggerSpec.build("memory://bucket/in", "*", "30s", None, None, None)
    assert polled.settle == POLLED_SETTLE > 1.0  # a 1 s chunk writer does not fire mid-write


@pytest.mark.slow
def test_the_daemon_runs_a_slowly_written_file_once_and_whole(tmp_path):
    ws, inbox, book = tmp_path / "ws", tmp_path / "in", tmp_path / "ledger.jsonl"
    inbox.mkdir()
    create_trigger(ws, "inbox", "on_files", inbox, "-p", f"ledger={book}", "--settle", "0.3s")
    daemon = DaemonProcess(ws, tmp_path / "daemon.log")
    try:
        # writes that start before the folder is watched have only the settle window
        wait_for(lambda: "schedule inbox: watching" in daemon.output(), 60)
        _write_slowly(inbox / "slow.csv", 4, 1.0)
        wait_for(lambda: ledger(book), 60)
        time.sleep(2.0)  # nothing else may start
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert len(runs(ws)) == 1, daemon.output()
    (entry,) = ledger(book)
    assert entry["text"].count("chunk") == 4  # the whole file, not a prefix
