"""The cache index: every SQL query step reuse makes (cache entries, their outputs, the last inputs)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from ..status import Status
from .artifacts import ArtifactRecord

if TYPE_CHECKING:
    from .database import Database


class Hit(NamedTuple):
    """A cache entry: the run and step that produced it, and the outputs it recorded.

    Attributes:
        run_id: the run whose outputs the entry points at.
        step: the step's name in that run.
        outputs: (output name, artifact) pairs.
    """

    run_id: str
    step: str
    outputs: tuple[tuple[str, ArtifactRecord], ...]


class Previous(NamedTuple):
    """What the last completed run of a step was keyed on (to say what changed since).

    Attributes:
        code: its code fingerprint.
        inputs: its recorded ingredients (``params``, ``shown``, ``inputs``, ``upstream``).
    """

    code: str | None
    inputs: dict[str, Any]


class CacheIndex:
    """A snapshot of the cache entries for a run's step names, loaded with one query.

    A fully cached run then decides each step with a dict lookup; a key missing from the
    snapshot (written by a concurrent run since) is looked up in the database.

    Args:
        db: the workspace database.
        steps: the step names of the pipeline being run.
    """

    def __init__(self, db: Database, steps: list[str]):
        self.db = db
        self._hits: dict[str, Hit] = {}
        self._by_step: dict[str, dict[str, Hit]] | None = None
        if steps:
            rows = db.query(_HIT_SQL + f" WHERE c.step IN ({','.join('?' * len(steps))})", steps)
            self._hits.update(_group(rows))

    def for_step(self, step: str) -> dict[str, Hit]:
        """The snapshot's entries cached under the step name ``step``, by key."""
        if self._by_step is None:
            self._by_step = {}
            for key, hit in self._hits.items():
                self._by_step.setdefault(hit.step, {})[key] = hit
        return self._by_step.get(step, {})

    def get(self, key: str) -> Hit | None:
        """The cached run, step and outputs for ``key``, or None."""
        hit = self._hits.get(key)
        if hit is None:
            hit = _group(self.db.query(_HIT_SQL + " WHERE c.key = ?", (key,))).get(key)
        return hit

    def previous(self, pipeline: str, step: str) -> Previous | None:
        """The ingredients of the last completed run of ``step`` in ``pipeline``, or None."""
        rows = self.db.query(
            "SELECT s.code_fp, s.inputs FROM step_runs s JOIN runs r ON r.id = s.run_id "
            "WHERE r.pipeline = ? AND s.step = ? AND s.status = ? AND s.inputs IS NOT NULL "
            "ORDER BY s.finished_at DESC LIMIT 1",
            (pipeline, step, Status.COMPLETED),
        )
        if not rows:
            return None
        return Previous(rows[0]["code_fp"], json.loads(rows[0]["inputs"]))


_HIT_SQL = (
    "SELECT c.key, c.run_id, c.step, o.name, a.fingerprint, a.kind, a.fmt, a.uri, a.size, "
    "a.flavor FROM cache c LEFT JOIN step_outputs o ON o.run_id = c.run_id AND o.step = c.step "
    "LEFT JOIN artifacts a ON a.fingerprint = o.fingerprint"
)


def _group(rows: list[dict[str, Any]]) -> dict[str, Hit]:
    out: dict[str, Hit] = {}
    for r in rows:
        run_id, step, outputs = out.get(r["key"], (r["run_id"], r["step"], ()))
        if r["name"] is not None and r["fingerprint"] is not None:
            outputs = (*outputs, (r["name"], ArtifactRecord.from_row(r)))
        out[r["key"]] = Hit(run_id, step, outputs)
    return out
