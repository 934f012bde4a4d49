"""Property tests for the run state machine and the DAG order (hypothesis)."""

from __future__ import annotations

import random

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine.execution.state import RunState
from headrace.engine.status import Status


@st.composite
def dags(draw: st.DrawFn) -> dict[str, tuple[str, ...]]:
    n = draw(st.integers(1, 25))
    names = [f"s{i}" for i in range(n)]
    upstream = {}
    for i, name in enumerate(names):
        ups = draw(st.lists(st.sampled_from(names[:i]), max_size=3, unique=True)) if i else []
        upstream[name] = tuple(ups)
    return upstream


@given(dags(), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_every_step_runs_once_after_its_upstream(
    upstream: dict[str, tuple[str, ...]], rnd: random.Random
) -> None:
    state = RunState(upstream)
    done: list[str] = []
    running: list[str] = []
    while not state.done:
        for s in state.take_ready():
            state.mark_running(s)
            running.append(s)
        assert running, "deadlock: nothing ready and nothing running"
        s = running.pop(rnd.randrange(len(running)))
        assert all(u in done for u in upstream[s])
        state.complete(s)
        done.append(s)
    assert sorted(done) == sorted(upstream) and state.run_status() is Status.COMPLETED


@given(dags(), st.data(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_failure_skips_exactly_what_it_must(
    upstream: dict[str, tuple[str, ...]], data: st.DataObject, keep_going: bool
) -> None:
    g = nx.DiGraph([(u, s) for s, ups in upstream.items() for u in ups])
    g.add_nodes_from(upstream)
    victim = data.draw(st.sampled_from(sorted(upstream)))
    state = RunState(upstream, continue_on_step_failure=keep_going)
    while not state.done:
        ready = state.take_ready()
        for s in ready:
            state.mark_running(s)
        for s in ready:
            if s == victim:
                state.fail(s)
            else:
                state.complete(s)
    descendants = nx.descendants(g, victim)
    for s in descendants:
        assert state.status[s] is Status.SKIPPED
    assert state.status[victim] is Status.FAILED and state.run_status() is Status.FAILED
    if keep_going:  # everything that does not depend on the failure still ran
        for s in set(upstream) - descendants - {victim}:
            assert state.status[s] is Status.COMPLETED


def test_cancel_marks_unfinished_steps() -> None:
    state = RunState({"a": (), "b": ("a",), "c": ()})
    for s in state.take_ready():
        state.mark_running(s)
    state.complete("a")
    assert sorted(state.cancel()) == ["b", "c"]
    assert state.run_status() is Status.CANCELED and state.take_ready() == []
