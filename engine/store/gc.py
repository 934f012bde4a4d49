"""Housekeeping: forget old runs, delete artifacts nothing kept refers to, clear stale staging."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..status import Status
from .artifacts import ArtifactRecord, local_size
from .durations import parse_duration
from .history import add_artifacts
from .integrity import INLINE
from .staging import owner_alive
from .stored_values import forget_unused
from .workspace import Workspace

STAGING_GRACE_S = 3600  # staging folders younger than this may belong to a running step
CHUNK = 256  # artifacts decided about at once: marked, leases read, deleted, unmarked


@dataclass
class GcReport:
    """What a collection removed (or would remove, in a dry run).

    Attributes:
        runs: ids of the runs forgotten.
        artifacts: the artifacts deleted.
        bytes_freed: their total size plus stale staging files.
        staging: stale staging folders removed.
        dry_run: nothing was changed.
    """

    runs: list[str] = field(default_factory=list)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    bytes_freed: int = 0
    staging: list[str] = field(default_factory=list)
    dry_run: bool = False


def parse_age(text: str) -> float:
    """``30d`` / ``12h`` / ``45m`` / ``90s`` → seconds (any spelling of ``durations``).

    Raises:
        ValueError: naming the expected form.
    """
    try:
        return parse_duration(text).seconds
    except ValueError:
        raise ValueError(f"age {text.strip().lower()!r} is not like 30d, 12h, 45m or 90s") from None


def collect(
    ws: Workspace,
    keep_last: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
) -> GcReport:
    """Forget runs outside the kept set and delete artifacts that only they referenced.

    A run is kept when it is among the ``keep_last`` newest, or younger than ``older_than``
    seconds, or still running (a run whose process died is marked failed first, as the CLI
    does); with neither option, every run is kept and only artifacts no run or cache entry
    refers to (left by killed runs) are removed. Forgetting a run also drops its cache
    entries, so later runs cannot be served from deleted artifacts.

    Args:
        ws: the workspace.
        keep_last: keep this many newest runs.
        older_than: forget runs older than this many seconds.
        dry_run: report only.
    """
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"keep_last={keep_last}: give 0 or more runs to keep")
    report = GcReport(dry_run=dry_run)
    h = ws.history
    h.reap_dead_runs()  # a run whose process died is over, not running (as the CLI sees it)
    runs = h.query("SELECT id, created_at, status FROM runs ORDER BY created_at DESC, rowid DESC")
    now = time.time()
    for i, r in enumerate(runs):
        young = older_than is not None and now - r["created_at"] < older_than
        recent = keep_last is not None and i < keep_last
        selected = keep_last is not None or older_than is not None
        if selected and not (young or recent) and r["status"] != Status.RUNNING:
            report.runs.append(r["id"])
    if report.runs and not dry_run:
        with h.transaction() as c:
            _repoint_cache(c, report.runs)
            for table, col in (
                ("metrics", "run_id"),
                ("step_outputs", "run_id"),
                ("cache", "run_id"),
                ("step_runs", "run_id"),
                ("runs", "id"),
            ):
                c.executemany(f"DELETE FROM {table} WHERE {col}=?", [(rid,) for rid in report.runs])
            forget_unused(c)  # large parameter values only forgotten runs used
    candidates = _unreferenced(ws, set(report.runs) if dry_run else set())
    if dry_run:
        report.artifacts = candidates
        report.bytes_freed += sum(rec.size for rec in candidates)
    else:
        _delete_artifacts(ws, candidates, report)
    _stale_staging(ws, report)
    _orphans(ws, report)
    return report


def _delete_artifacts(ws: Workspace, candidates: list[ArtifactRecord], report: GcReport) -> None:
    """Delete artifacts no run refers to, keeping those a running run has leased.

    Rows go first, each only if still unreferenced (one transaction, so a run committing a
    reference at the same time either keeps its row or finds it gone). The artifacts are then
    decided about ``CHUNK`` at a time (so no tombstone lives long): marked (tombstones), and
    only after that are the leases read and the references counted again (``leases.py``): an
    artifact a running run leased is kept, since that run may be about to commit it, and so is
    one a run referred to meanwhile (a run that leased it, committed and ended before the
    leases were read).
    """
    h = ws.history
    doomed = []
    with h.transaction() as c:
        for rec in candidates:
            cur = c.execute(
                "DELETE FROM artifacts WHERE fingerprint=? AND fingerprint NOT IN "
                "(SELECT fingerprint FROM step_outputs)",
                (rec.fingerprint,),
            )
            if cur.rowcount and not rec.uri.startswith(INLINE):
                doomed.append(rec)  # (a value kept in its row has no file to delete)
    leases = ws.store.leases
    leases.clear_stale()
    for start in range(0, len(doomed), CHUNK):
        chunk = doomed[start : start + CHUNK]
        fps = [rec.fingerprint for rec in chunk]
        try:
            leases.doom(fps)
            keep = leases.held(_running(ws)) | _referenced(ws, fps)
            kept = [rec for rec in chunk if rec.fingerprint in keep]
            if kept:  # listed again, so a later gc deletes them once nothing uses them
                with h.transaction() as c:
                    add_artifacts(c, kept)
            for rec in chunk:
                if rec.fingerprint not in keep:
                    report.artifacts.append(rec)
                    report.bytes_freed += ws.store.delete(rec)
        finally:  # even when a delete fails or gc is interrupted: no tombstone is left behind
            for fp in fps:
                leases.spare(fp)
    leases.forget_ended(lambda: _running(ws))


def _referenced(ws: Workspace, fingerprints: list[str]) -> set[str]:
    """Which of ``fingerprints`` a recorded run refers to now."""
    found: set[str] = set()
    for start in range(0, len(fingerprints), 500):
        part = fingerprints[start : start + 500]
        rows = ws.history.query(
            "SELECT DISTINCT fingerprint FROM step_outputs WHERE fingerprint IN "
            f"({','.join('?' * len(part))})",
            tuple(part),
        )
        found.update(r["fingerprint"] for r in rows)
    return found


def _running(ws: Workspace) -> set[str]:
    rows = ws.history.query("SELECT id FROM runs WHERE status=?", (Status.RUNNING,))
    return {r["id"] for r in rows}


def _repoint_cache(c: Any, forgotten: list[str]) -> None:
    """Hand cache entries of forgotten runs to a kept run that reused the same key.

    A reused step records the key but writes no cache entry of its own; without this,
    forgetting the run that computed a result would make every kept run that reused it
    non-reusable although its outputs are still stored.
    """
    marks = ",".join("?" * len(forgotten))
    c.execute(
        f"UPDATE cache SET (run_id, step) = (SELECT s.run_id, s.step FROM step_runs s "
        f"WHERE s.cache_key = cache.key AND s.status = ? AND s.run_id NOT IN ({marks}) "
        f"ORDER BY s.finished_at DESC LIMIT 1) WHERE run_id IN ({marks}) AND EXISTS "
        f"(SELECT 1 FROM step_runs s WHERE s.cache_key = cache.key AND s.status = ? "
        f"AND s.run_id NOT IN ({marks}))",
        [Status.COMPLETED, *forgotten, *forgotten, Status.COMPLETED, *forgotten],
    )


def _unreferenced(ws: Workspace, forgotten: set[str]) -> list[ArtifactRecord]:
    rows = ws.history.query(
        "SELECT a.*, (SELECT group_concat(o.run_id) FROM step_outputs o "
        "WHERE o.fingerprint = a.fingerprint) AS users FROM artifacts a"
    )
    out = []
    for r in rows:
        users = set((r["users"] or "").split(",")) - {""}
        if not users - forgotten:
            out.append(
                ArtifactRecord(
                    r["fingerprint"], r["kind"], r["fmt"], r["uri"], r["size"], r["flavor"] or ""
                )
            )
    return out


def _stale_staging(ws: Workspace, report: GcReport) -> None:
    staging = ws.store.staging
    if not staging.is_dir():
        return
    now = time.time()
    entries = [e for e in staging.iterdir() if e.name not in ("cache", "out")]
    if (staging / "out").is_dir():  # step output folders: judged one by one
        entries += list((staging / "out").iterdir())
    for entry in entries:
        alive = owner_alive(entry.name)
        if alive:
            continue  # the process staging it lives: however old, it is in use
        if alive is None and now - _newest_mtime(entry) < STAGING_GRACE_S:
            continue  # no owner in its name (older headrace): a running step may write here
        _remove(entry, report)


def _newest_mtime(path: Path) -> float:
    """The latest modification time of ``path`` or anything inside it."""
    newest = path.stat().st_mtime
    if path.is_dir():
        for p in path.rglob("*"):
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, p.stat().st_mtime)
    return newest


def _orphans(ws: Workspace, report: GcReport) -> None:
    """Artifact folders no database row names (a run killed between writing and recording).

    A running run may have found such a copy and be about to record it (its output had the
    same content), so orphans go through the same marks and leases as listed artifacts.
    """
    root = os.path.join(ws.store.root, "objects")
    if not ws.store.is_local or not os.path.isdir(root):
        return
    known = _known(ws)
    now = time.time()
    found = []
    for prefix in os.scandir(root):
        for entry in os.scandir(prefix.path):
            if entry.name in known or now - entry.stat().st_mtime < STAGING_GRACE_S:
                continue
            found.append((entry.name, Path(entry.path)))
    if report.dry_run:
        for _, path in found:
            _remove(path, report)
        return
    leases = ws.store.leases
    for start in range(0, len(found), CHUNK):
        chunk = found[start : start + CHUNK]
        fps = [fp for fp, _ in chunk]
        try:
            leases.doom(fps)
            keep = leases.held(_running(ws)) | _known(ws)
            for fp, path in chunk:
                if fp not in keep:
                    _remove(path, report)
        finally:
            for fp in fps:
                leases.spare(fp)


def _known(ws: Workspace) -> set[str]:
    return {r["fingerprint"] for r in ws.history.query("SELECT fingerprint FROM artifacts")}


def _remove(entry: Path, report: GcReport) -> None:
    """Count a stale file or folder in the report and delete it (unless a dry run)."""
    report.staging.append(str(entry))
    report.bytes_freed += local_size(entry)
    if not report.dry_run:
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else os.remove(entry)
