"""Twins (pure): steps of one run with the same cache key compute once."""

from __future__ import annotations

from headrace.engine.execution.reuse import Decision, Ingredients
from headrace.engine.execution.twins import Twins
from headrace.engine.store.artifacts import ArtifactRecord


def _decision(key: str | None) -> Decision:
    return Decision(False, "new", key, Ingredients("c", {}, {}, {}, {}))


OUT = (("output", ArtifactRecord("f" * 32, "parameter", "json", "/x/value.json", 2)),)


def test_a_twin_waits_for_the_first_and_reuses_it() -> None:
    twins = Twins("run-1")
    assert twins.on_launch("a", _decision("k"), cacheable=True) is None and not twins.parked("a")
    assert twins.on_launch("b", _decision("k"), cacheable=True) is None and twins.parked("b")
    ((step, served),) = twins.on_success("a", OUT)
    assert step == "b" and not twins.parked("b")
    assert (served.reuse, served.reused_from, served.source_step, served.outputs) == (
        True,
        "run-1",
        "a",
        OUT,
    )
    later = twins.on_launch("c", _decision("k"), cacheable=True)  # after the first finished
    assert later is not None and later.reason == "reused from step a of this run (same cache key)"


def test_twins_run_themselves_when_the_first_fails_or_is_not_cached() -> None:
    twins = Twins("run-1")
    twins.on_launch("a", _decision("k"), cacheable=True)
    twins.on_launch("b", _decision("k"), cacheable=True)
    assert [s for s, _ in twins.release("a")] == ["b"] and not twins.parked("b")
    assert twins.on_launch("b", _decision("k"), cacheable=True) is None  # b computes now
    assert not twins.parked("b")


def test_uncacheable_or_keyless_steps_never_wait() -> None:
    twins = Twins("run-1")
    for step in ("a", "b"):
        assert twins.on_launch(step, _decision("k"), cacheable=False) is None
        assert twins.on_launch(step + "2", _decision(None), cacheable=True) is None
    assert not any(twins.parked(s) for s in ("a", "b", "a2", "b2"))
