"""``headrace verify``: re-hash every stored artifact, and with ``repair`` remove damaged copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import ArtifactRecord, ArtifactStore
from .integrity import bytes_match, inline_bytes, local_matches
from .workspace import Workspace


@dataclass
class VerifyReport:
    """What a verification found.

    Attributes:
        checked: how many artifacts were hashed.
        missing: artifacts recorded but gone from the store (a later run re-creates them).
        damaged: artifacts whose payload no longer matches its content address.
        removed: damaged payloads deleted (``repair``); the steps that made them re-run.
    """

    checked: int = 0
    missing: list[ArtifactRecord] = field(default_factory=list)
    damaged: list[ArtifactRecord] = field(default_factory=list)
    removed: list[ArtifactRecord] = field(default_factory=list)


def verify_store(
    ws: Workspace, repair: bool = False, advance: Callable[[int], None] | None = None
) -> VerifyReport:
    """Hash every artifact the workspace records, ignoring the stat cache.

    Args:
        ws: the workspace.
        repair: delete damaged payloads, so the next run recomputes them (a damaged copy is
            never reused either way; this frees its address for a good one).
        advance: called with the number of artifacts each time one is done (progress bars).
    """
    report = VerifyReport()
    rows = ws.history.query("SELECT * FROM artifacts ORDER BY created_at")
    for row in rows:
        record = ArtifactRecord.from_row(row)
        state = _check(ws.store, record)
        report.checked += 1
        if state == "missing":
            report.missing.append(record)
        elif state == "damaged":
            report.damaged.append(record)
            if repair:
                ws.store.delete(record)
                report.removed.append(record)
        if advance is not None:
            advance(1)
    return report


def _check(store: ArtifactStore, record: ArtifactRecord) -> str:
    if (data := inline_bytes(record)) is not None:  # kept in its record
        return "ok" if bytes_match(record, data) else "damaged"
    if store.is_local:
        path = Path(record.uri)
        if not path.exists() and not path.is_symlink():
            return "missing"
        return "ok" if local_matches(record, path, full=True) else "damaged"
    if not store.fs.exists(record.uri):
        return "missing"
    tmp = store.new_staging_dir()  # a fresh download: a damaged local copy is not the store
    try:
        name = record.uri.rsplit("/", 1)[-1]
        store.fs.get(record.uri, str(tmp / name), recursive=record.fmt != "file")
        return "ok" if local_matches(record, tmp / name, full=True) else "damaged"
    except OSError:
        return "damaged"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
