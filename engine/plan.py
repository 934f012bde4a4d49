"""The reuse decision for a ready step: its cache-key ingredients, reuse or run, and why."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .hashing import cache_key, code_fingerprint, fingerprint_input, fingerprint_value
from .store import ArtifactRecord
from .types import PARAMETER

if TYPE_CHECKING:
    from .history import History
    from .pipeline import Step
    from .statcache import StatCache
    from .store import ArtifactStore

FORCED = "forced (regenerate_outputs)"
DISABLED = "reuse disabled"
NEW = "new"


@dataclass(frozen=True)
class Ingredients:
    """Everything a step's cache key is made of, kept to explain the next decision.

    Attributes:
        code: the component's code fingerprint.
        params: parameter-kind input name → value fingerprint.
        shown: parameter-kind input name → short text of the value (for reasons).
        inputs: other given inputs (paths, tables, objects) → content fingerprint.
        upstream: inputs fed by upstream steps → the producer's output fingerprint.
        unhashable: inputs that could not be fingerprinted (they refuse reuse).
    """

    code: str
    params: dict[str, str]
    shown: dict[str, str]
    inputs: dict[str, str]
    upstream: dict[str, str]
    unhashable: tuple[str, ...] = ()

    @property
    def key(self) -> str | None:
        """The cache key, or None when an input cannot be fingerprinted."""
        if self.unhashable:
            return None
        return cache_key(self.code, self.params, {**self.inputs, **self.upstream})

    def to_json(self) -> str:
        """What step_runs.inputs records."""
        return json.dumps(
            {
                "params": self.params,
                "shown": self.shown,
                "inputs": self.inputs,
                "upstream": self.upstream,
                "unhashable": list(self.unhashable),
            }
        )


@dataclass(frozen=True)
class Decision:
    """Reuse or run one step.

    Attributes:
        reuse: serve the step from the cache.
        reason: why it runs (or that it was reused).
        key: the cache key (None when it cannot be computed).
        ingredients: what the key is made of.
        reused_from: the run whose outputs are reused.
        outputs: the reused outputs.
        source_step: the step name in that run (whose metrics a reused step shows).
    """

    reuse: bool
    reason: str
    key: str | None
    ingredients: Ingredients
    reused_from: str | None = None
    outputs: tuple[tuple[str, ArtifactRecord], ...] = ()
    source_step: str | None = None


def ingredients(
    step: Step,
    values: dict[str, Any],
    upstream: dict[str, dict[str, ArtifactRecord]],
    stat_cache: StatCache | None,
    storage_options: dict[str, Any] | None = None,
    code_fps: dict[int, str] | None = None,
    ahead: bool = False,
) -> Ingredients:
    """Fingerprint every ingredient of ``step``'s cache key (DESIGN §4).

    Args:
        step: the step.
        values: the run's bound parameter values.
        upstream: finished steps' outputs.
        stat_cache: the workspace stat cache for file inputs.
        storage_options: fsspec options for URL inputs.
        code_fps: a per-run memo of code fingerprints by component id (code cannot change
            during a run).
        ahead: leave out inputs fed by steps missing from ``upstream`` (still running); the
            step is being sent ahead and its key is completed where it runs (``eager.py``).
    """
    comp = step.component
    params, shown, inputs, ups, bad = {}, {}, {}, {}, []
    for port in comp.inputs:
        b = step.bindings[port.name]
        if b.source == "output":
            if not (ahead and b.step not in upstream):
                ups[port.name] = upstream[b.step][b.name].fingerprint
            continue
        value = values[b.name] if b.source == "parameter" else b.value
        if port.kind == PARAMETER:
            params[port.name] = fingerprint_value(value)
            shown[port.name] = _short(value)
            continue
        why = "it cannot be pickled"
        try:
            fp = fingerprint_input(value, port.annotation, stat_cache, storage_options)
        except (OSError, TypeError, ValueError) as exc:
            fp, why = None, str(exc)
        if fp is None:
            warnings.warn(
                f"step {step.name!r}: input {port.name!r} cannot be fingerprinted ({why}); "
                "the step will run and will not be reused",
                stacklevel=2,
            )
            bad.append(port.name)
        else:
            inputs[port.name] = fp
    memo = code_fps if code_fps is not None else {}
    code = memo.get(id(comp))
    if code is None:
        code = memo[id(comp)] = code_fingerprint(comp.fn, comp.version)
    return Ingredients(code, params, shown, inputs, ups, tuple(bad))


def _short(value: Any) -> str:
    text = repr(value.value if hasattr(value, "value") and not isinstance(value, str) else value)
    return text if len(text) <= 40 else text[:37] + "..."


Hit = tuple[str, str, tuple[tuple[str, ArtifactRecord], ...]]


class CacheIndex:
    """A snapshot of the cache entries for a run's step names, loaded with one query.

    A fully cached run then decides each step with a dict lookup; a key missing from the
    snapshot (written by a concurrent run since) is looked up in the database.

    Args:
        history: the workspace database.
        steps: the step names of the pipeline being run.
    """

    def __init__(self, history: History, steps: list[str]):
        self.history = history
        self._hits: dict[str, Hit] = {}
        self._by_step: dict[str, dict[str, Hit]] | None = None
        rows = history.query(_HIT_SQL + f" WHERE c.step IN ({','.join('?' * len(steps))})", steps)
        for key, hit in _group(rows).items():
            self._hits[key] = hit

    def for_step(self, step: str) -> dict[str, Hit]:
        """The snapshot's entries cached under the step name ``step``, by key."""
        if self._by_step is None:
            self._by_step = {}
            for key, hit in self._hits.items():
                self._by_step.setdefault(hit[1], {})[key] = hit
        return self._by_step.get(step, {})

    def get(self, key: str) -> Hit | None:
        """The cached run, step and outputs for ``key``, or None."""
        hit = self._hits.get(key)
        if hit is None:
            hit = _group(self.history.query(_HIT_SQL + " WHERE c.key = ?", (key,))).get(key)
        return hit


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
            rec = ArtifactRecord(
                r["fingerprint"], r["kind"], r["fmt"], r["uri"], r["size"], r["flavor"] or ""
            )
            outputs = (*outputs, (r["name"], rec))
        out[r["key"]] = (run_id, step, outputs)
    return out


def decide(
    step: Step,
    ingr: Ingredients,
    history: History,
    store: ArtifactStore,
    pipeline: str,
    regenerate_outputs: bool,
    index: CacheIndex | None = None,
) -> Decision:
    """Decide whether ``step`` is reused, and say why it runs when it is not."""
    comp = step.component
    key = ingr.key
    if regenerate_outputs:
        return Decision(False, FORCED, key, ingr)
    if not comp.allow_reuse or not comp.deterministic:
        why = "allow_reuse=False" if not comp.allow_reuse else "deterministic=False"
        return Decision(False, f"{DISABLED} ({why})", key, ingr)
    if key is None:
        return Decision(
            False, f"{DISABLED} (cannot fingerprint {', '.join(ingr.unhashable)})", None, ingr
        )
    hit = (index or CacheIndex(history, [])).get(key)
    if hit is not None:
        run_id, cached_step, outputs = hit
        names = {p.name for p in comp.outputs}
        if set(dict(outputs)) == names and all(store.exists(rec) for _, rec in outputs):
            return Decision(
                True, f"reused from run {run_id}", key, ingr, run_id, outputs, cached_step
            )
        return Decision(False, "outputs of the cached run are missing from the store", key, ingr)
    return Decision(False, _what_changed(history, pipeline, step.name, ingr), key, ingr)


def _what_changed(history: History, pipeline: str, step: str, ingr: Ingredients) -> str:
    rows = history.query(
        "SELECT s.code_fp, s.inputs FROM step_runs s JOIN runs r ON r.id = s.run_id "
        "WHERE r.pipeline = ? AND s.step = ? AND s.status = 'Completed' AND s.inputs IS NOT NULL "
        "ORDER BY s.finished_at DESC LIMIT 1",
        (pipeline, step),
    )
    if not rows:
        return NEW
    prev = json.loads(rows[0]["inputs"])
    reasons = []
    if rows[0]["code_fp"] != ingr.code:
        reasons.append("code changed")
    for name, fp in ingr.params.items():
        old = prev.get("params", {}).get(name)
        if old != fp:
            before = prev.get("shown", {}).get(name, "?")
            reasons.append(f"parameter {name} changed {before} → {ingr.shown[name]}")
    reasons += [
        f"input {n} changed" for n, fp in ingr.inputs.items() if prev.get("inputs", {}).get(n) != fp
    ]
    if any(prev.get("upstream", {}).get(n) != fp for n, fp in ingr.upstream.items()):
        reasons.append("upstream output changed")
    return "; ".join(reasons) or "no cache entry (its outputs were collected or never cached)"
