"""Leases: a run's claim on stored artifacts it is about to refer to, which gc honours.

``gc`` deletes an artifact once no recorded run refers to it. A run refers to an artifact
only when it commits the step that uses it, a moment after it chose to reuse a cached
result, or after a worker found the step's output already stored and kept that copy
(deduplicated). gc cannot see that window in the database. A lease covers it. The run writes
the artifact's fingerprint into a lease file *before* it checks that the artifact is there;
gc marks each artifact it means to delete (a tombstone) *before* it reads the leases, keeps
the ones a running run leased, and deletes the others. A check that meets a tombstone waits
until gc is done with that artifact. One of the two always sees the other: either gc finds
the lease, or the run's check finds the tombstone (and then the artifact gone, so the run
writes or computes it again).

Lease files live in ``<store>/leases/<run id>/``: one append-only file per process on a local
store (one write per artifact), one empty object per artifact on a remote one. Only leases
of runs recorded as running count (a run is recorded before it takes any). The runner
removes its run's folder when the run ends; gc removes those of runs that have ended.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

_OPEN_MAX = 8  # lease files a process keeps open (a long-lived worker serves many runs)
_DOOMED = "_gc"  # the tombstones' folder, beside the runs' folders
TOMBSTONE_STALE_S = 120.0  # a tombstone this old was left by a gc that died


class Leases:
    """The lease folder of one artifact store.

    Args:
        fs: the store's fsspec filesystem.
        root: the store's root path on ``fs``.
        is_local: the store is a local folder (leases are appended to per-process files).
    """

    def __init__(self, fs: Any, root: str, is_local: bool):
        self.fs, self.is_local = fs, is_local
        self.root = f"{root}/leases"
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, run_id: str, fingerprint: str) -> None:
        """Claim ``fingerprint`` for ``run_id`` until the run ends (durably visible to gc).

        Only once ``run_id`` is recorded as running: gc removes the lease folders of runs
        it does not see running (``forget_ended``).
        """
        if not self.is_local:
            self.fs.pipe(f"{self.root}/{run_id}/{fingerprint}", b"")
            return
        with self._lock:  # held across the write: another thread may close or evict the fd
            os.write(self._fd(run_id), fingerprint.encode() + b"\n")

    def _fd(self, run_id: str) -> int:
        """The open lease file of ``run_id`` in this process (call with ``_lock`` held)."""
        fd = self._fds.get(run_id)
        if fd is None:
            if len(self._fds) >= _OPEN_MAX:
                os.close(self._fds.pop(next(iter(self._fds))))
            folder = os.path.join(self.root, run_id)
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{os.getpid()}.lease")
            fd = self._fds[run_id] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        return fd

    def held(self, running: set[str]) -> set[str]:
        """Fingerprints leased by the runs in ``running``."""
        leased: set[str] = set()
        for run_id, folder in self._runs():
            if run_id not in running:
                continue
            if self.is_local:
                for name in _listdir(folder):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
                        leased.update(line.strip().decode() for line in handle if line.strip())
            else:
                leased.update(p.rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False))
        return leased

    def doom(self, fingerprints: list[str]) -> None:
        """Mark artifacts gc is about to delete (before it reads the leases)."""
        for fp in fingerprints:
            self._put(f"{self.root}/{_DOOMED}/{fp}")

    def spare(self, fingerprint: str) -> None:
        """Remove the tombstone of an artifact gc kept or has finished deleting."""
        path = f"{self.root}/{_DOOMED}/{fingerprint}"
        with contextlib.suppress(FileNotFoundError):
            os.remove(path) if self.is_local else self.fs.rm(path)

    def wait_spared(self, fingerprint: str) -> None:
        """Return once gc is not deciding about ``fingerprint`` (call after :meth:`take`).

        gc decides about a few hundred artifacts at a time (``gc.CHUNK``), so a tombstone
        lives for seconds; one older than ``TOMBSTONE_STALE_S`` was left by a gc that died,
        and decides nothing.
        """
        path = f"{self.root}/{_DOOMED}/{fingerprint}"
        deadline = time.monotonic() + TOMBSTONE_STALE_S
        while (age := self._age(path)) is not None:
            if age > TOMBSTONE_STALE_S or time.monotonic() > deadline:
                self.spare(fingerprint)
                return
            time.sleep(0.01)

    def clear_stale(self) -> int:
        """Remove tombstones older than ``TOMBSTONE_STALE_S`` (left by a gc that died)."""
        folder = f"{self.root}/{_DOOMED}"
        names = _listdir(folder) if self.is_local else self._remote_names(folder)
        cleared = 0
        for name in names:
            age = self._age(f"{folder}/{name}")
            if age is not None and age > TOMBSTONE_STALE_S:
                self.spare(name)
                cleared += 1
        return cleared

    def _remote_names(self, folder: str) -> list[str]:
        try:
            return [p.rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return []

    def _put(self, path: str) -> None:
        if self.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb"):
                pass
            os.utime(path)  # a tombstone left before counts from now (its age is its gc's)
        else:
            self.fs.pipe(path, b"")

    def _age(self, path: str) -> float | None:
        """Seconds since ``path`` was written, or None when it is not there (remote stores
        that give no time count as just written: the waiter's own deadline then decides)."""
        if self.is_local:
            try:
                return max(0.0, time.time() - os.stat(path).st_mtime)
            except FileNotFoundError:
                return None
        if not self.fs.exists(path):
            return None
        with contextlib.suppress(Exception):
            modified = self.fs.modified(path)
            return max(0.0, time.time() - modified.timestamp())
        return 0.0

    def release(self, run_id: str) -> None:
        """Drop every lease of ``run_id`` (its steps are committed, or it ended)."""
        with self._lock:
            fd = self._fds.pop(run_id, None)
        if fd is not None:
            os.close(fd)
        folder = f"{self.root}/{run_id}"
        if self.is_local:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(folder, recursive=True)

    def forget_ended(self, running: Callable[[], set[str]]) -> None:
        """Remove the lease folders of runs that have ended (gc).

        Args:
            running: the ids of the runs recorded as running, asked after the folders are
                listed: a run takes leases only once it is recorded, so a listed folder whose
                run is not running then belongs to a run that has ended.
        """
        folders = self._runs()
        live = running()
        for run_id, _ in folders:
            if run_id not in live:
                self.release(run_id)

    def _runs(self) -> list[tuple[str, str]]:
        if self.is_local:
            found = [(name, os.path.join(self.root, name)) for name in _listdir(self.root)]
        else:
            try:
                found = [(p.rsplit("/", 1)[-1], p) for p in self.fs.ls(self.root, detail=False)]
            except FileNotFoundError:
                found = []
        return [(run_id, folder) for run_id, folder in found if run_id != _DOOMED]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
