"""Fingerprinting a ready step's inputs into the ingredients of its cache key (DESIGN §4)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..fingerprint.keys import code_fingerprint, fingerprint_input, fingerprint_value
from ..types import PARAMETER
from .reuse import Ingredients

if TYPE_CHECKING:
    from ..definitions.model import Step
    from ..store.artifacts import ArtifactRecord
    from ..store.statcache import StatCache


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
