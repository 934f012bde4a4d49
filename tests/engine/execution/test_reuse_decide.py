"""The pure reuse decision: every reason, from plain values (no workspace, no I/O)."""

from __future__ import annotations

import pytest

from headrace.engine import component
from headrace.engine.execution.reuse import (
    DISABLED,
    FORCED,
    MISSING,
    NEW,
    UNCACHED,
    Ingredients,
    blocker,
    decide,
    what_changed,
)
from headrace.engine.store.artifacts import ArtifactRecord
from headrace.engine.store.cache_index import Hit, Previous


@component
def plain(x: int) -> int:
    return x


@component(allow_reuse=False)
def never(x: int) -> int:
    return x


@component(deterministic=False)
def random_one(x: int) -> int:
    return x


C1, C0, P1, P0, I1, I0, O1, O0 = (f"{i:032x}" for i in range(1, 9))

INGR = Ingredients(C1, {"x": P1}, {"x": "1"}, {"data": I1}, {"up": O1})
REC = ArtifactRecord("a" * 32, "parameter", "json", "/s/value.json", 1)
HIT = Hit("run-0", "s", (("output", REC),))
PREV = Previous(
    C1,
    {
        "params": {"x": P1},
        "shown": {"x": "1"},
        "inputs": {"data": I1},
        "upstream": {"up": O1},
    },
)


def _prev(**changes) -> Previous:
    inputs = {k: dict(v) for k, v in PREV.inputs.items()}
    code = changes.pop("code", PREV.code)
    for section, values in changes.items():
        inputs[section].update(values)
    return Previous(code, inputs)


@pytest.mark.parametrize(
    ("comp", "regenerate", "ingr", "hit", "present", "previous", "reuse", "reason"),
    [
        (plain, True, INGR, HIT, True, None, False, FORCED),
        (never, False, INGR, HIT, True, None, False, f"{DISABLED} (allow_reuse=False)"),
        (random_one, False, INGR, HIT, True, None, False, f"{DISABLED} (deterministic=False)"),
        (
            plain,
            False,
            Ingredients(C1, {}, {}, {}, {}, ("data",)),
            None,
            False,
            None,
            False,
            f"{DISABLED} (cannot fingerprint data)",
        ),
        (plain, False, INGR, HIT, True, None, True, "reused from run run-0"),
        (plain, False, INGR, HIT, False, None, False, MISSING),
        (plain, False, INGR, Hit("run-0", "s", ()), True, None, False, MISSING),
        (plain, False, INGR, None, False, None, False, NEW),
        (plain, False, INGR, None, False, PREV, False, UNCACHED),
        (plain, False, INGR, None, False, _prev(code=C0), False, "code changed"),
        (
            plain,
            False,
            INGR,
            None,
            False,
            _prev(params={"x": P0}, shown={"x": "0"}),
            False,
            "parameter x changed 0 → 1",
        ),
        (
            plain,
            False,
            INGR,
            None,
            False,
            _prev(inputs={"data": I0}),
            False,
            "input data changed",
        ),
        (
            plain,
            False,
            INGR,
            None,
            False,
            _prev(upstream={"up": O0}),
            False,
            "upstream output changed",
        ),
        (
            plain,
            False,
            INGR,
            None,
            False,
            _prev(code=C0, inputs={"data": I0}),
            False,
            "code changed; input data changed",
        ),
    ],
)
def test_decide(comp, regenerate, ingr, hit, present, previous, reuse, reason) -> None:
    d = decide(
        comp,
        ingr,
        regenerate_outputs=regenerate,
        hit=hit,
        outputs_present=present,
        previous=previous,
    )
    assert (d.reuse, d.reason) == (reuse, reason)
    assert d.key == ingr.key
    if reuse:
        assert (d.reused_from, d.source_step, d.outputs) == ("run-0", "s", HIT.outputs)


def test_a_blocker_needs_no_cache_lookup() -> None:
    assert blocker(plain, INGR, regenerate_outputs=False) is None
    assert blocker(plain, INGR, regenerate_outputs=True) == FORCED


def test_what_changed_lists_a_parameter_missing_before() -> None:
    prev = Previous(
        C1,
        {"params": {}, "shown": {}, "inputs": {"data": I1}, "upstream": {"up": O1}},
    )
    assert what_changed(INGR, prev) == "parameter x changed ? → 1"
