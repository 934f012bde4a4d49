"""The reuse decision for a ready step, from plain values: reuse or run, and why (no I/O)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..fingerprint.keys import cache_key
from ..store.artifacts import ArtifactRecord
from ..store.cache_index import Hit, Previous

if TYPE_CHECKING:
    from ..definitions.component import Component

FORCED = "forced (regenerate_outputs)"
DISABLED = "reuse disabled"
NEW = "new"
MISSING = "outputs of the cached run are missing from the store"
UNCACHED = "no cache entry (its outputs were collected or never cached)"


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

    @functools.cached_property
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


def blocker(comp: Component, ingr: Ingredients, regenerate_outputs: bool) -> str | None:
    """Why ``comp`` may not be reused whatever the cache holds, or None when it may be.

    Args:
        comp: the step's component (its ``allow_reuse`` and ``deterministic`` options).
        ingr: the step's ingredients (an unhashable input blocks reuse).
        regenerate_outputs: the run forces every step.
    """
    if regenerate_outputs:
        return FORCED
    if not comp.allow_reuse:
        return f"{DISABLED} (allow_reuse=False)"
    if not comp.deterministic:
        return f"{DISABLED} (deterministic=False)"
    if ingr.unhashable:
        return f"{DISABLED} (cannot fingerprint {', '.join(ingr.unhashable)})"
    return None


def decide(
    comp: Component,
    ingr: Ingredients,
    *,
    regenerate_outputs: bool,
    hit: Hit | None,
    outputs_present: bool,
    previous: Previous | None,
) -> Decision:
    """Decide whether a step is reused, and say why it runs when it is not.

    Args:
        comp: the step's component.
        ingr: its cache-key ingredients.
        regenerate_outputs: the run forces every step.
        hit: the cache entry under ``ingr.key``, or None.
        outputs_present: every output ``hit`` names is in the store and verifies.
        previous: the ingredients of the step's last completed run (for the reason), or None.
    """
    key = ingr.key
    why_not = blocker(comp, ingr, regenerate_outputs)
    if why_not is not None:
        return Decision(False, why_not, key, ingr)
    if hit is not None:
        names = {p.name for p in comp.outputs}
        if set(dict(hit.outputs)) == names and outputs_present:
            reason = f"reused from run {hit.run_id}"
            return Decision(True, reason, key, ingr, hit.run_id, hit.outputs, hit.step)
        return Decision(False, MISSING, key, ingr)
    return Decision(False, what_changed(ingr, previous), key, ingr)


def what_changed(ingr: Ingredients, previous: Previous | None) -> str:
    """Say what differs from the step's last completed run: code, parameters, inputs, upstream.

    Args:
        ingr: the ingredients now.
        previous: the last completed run's (None: the step never completed before).
    """
    if previous is None:
        return NEW
    prev = previous.inputs
    reasons = []
    if previous.code != ingr.code:
        reasons.append("code changed")
    for name, fp in ingr.params.items():
        if prev.get("params", {}).get(name) != fp:
            before = prev.get("shown", {}).get(name, "?")
            reasons.append(f"parameter {name} changed {before} → {ingr.shown[name]}")
    reasons += [
        f"input {n} changed" for n, fp in ingr.inputs.items() if prev.get("inputs", {}).get(n) != fp
    ]
    if any(prev.get("upstream", {}).get(n) != fp for n, fp in ingr.upstream.items()):
        reasons.append("upstream output changed")
    return "; ".join(reasons) or UNCACHED
