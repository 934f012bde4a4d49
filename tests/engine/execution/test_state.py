"""The run state machine: readiness and skipping (property tests), attempts, retries, timeouts."""

from __future__ import annotations

import random
from typing import Any

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


def _launched(upstream: dict[str, tuple[str, ...]], **kwargs: Any) -> RunState:
    """A RunState whose first ready steps have each launched their first attempt."""
    state = RunState(upstream, **kwargs)
    for s in state.take_ready():
        assert state.launch(s) == 1
    return state


def test_attempts_are_numbered_and_retried_until_the_retries_run_out() -> None:
    state = _launched({"a": ()}, retries={"a": 2})
    assert state.attempt("a") == 1 and state.status["a"] is Status.RUNNING
    assert state.attempt_failed("a") and state.launch("a") == 2
    assert state.attempt_failed("a") and state.launch("a") == 3
    assert not state.attempt_failed("a")  # a third failure is for good
    assert state.fail("a") == [] and state.run_status() is Status.FAILED


def test_a_step_without_retries_fails_at_its_first_failure() -> None:
    state = _launched({"a": (), "b": ("a",)})
    assert not state.attempt_failed("a")
    assert state.fail("a") == ["b"] and state.attempt("b") == 0


def test_no_retry_once_a_failure_stopped_the_run() -> None:
    state = _launched({"a": (), "b": ()}, retries={"a": 3})
    assert not state.attempt_failed("b")
    state.fail("b")
    assert state.stopped and not state.attempt_failed("a")


def test_with_continue_on_step_failure_other_steps_still_retry() -> None:
    state = _launched({"a": (), "b": ()}, continue_on_step_failure=True, retries={"a": 1})
    state.attempt_failed("b")
    state.fail("b")
    assert state.attempt_failed("a") and state.launch("a") == 2


def test_a_timeout_counts_from_when_the_attempt_started() -> None:
    state = _launched({"a": ()}, timeouts={"a": 10.0})
    assert state.timing and list(state.awaiting_start) == ["a"]
    assert state.next_deadline(100.0) is None and state.expired(1e9) == []  # not started yet
    state.attempt_started("a", 5.0)
    assert not state.awaiting_start
    assert state.next_deadline(7.0) == 8.0 and state.next_deadline(20.0) == 0.0
    assert state.expired(14.9) == []
    assert state.expired(15.0) == ["a"]
    assert not state.timing and state.expired(1e9) == [] and state.next_deadline(0.0) is None
    assert state.status["a"] is Status.RUNNING  # the caller fails (or retries) the attempt


def test_a_start_known_at_launch_and_untimed_steps() -> None:
    state = RunState({"a": (), "b": ()}, timeouts={"a": 2.0, "b": None})
    state.take_ready()
    state.launch("a", started=1.0)
    state.launch("b", started=1.0)
    assert not state.awaiting_start and state.next_deadline(1.5) == 1.5
    assert state.expired(3.0) == ["a"]


def test_a_retry_gets_a_fresh_deadline_and_the_old_one_is_forgotten() -> None:
    state = _launched({"a": ()}, retries={"a": 1}, timeouts={"a": 1.0})
    state.attempt_started("a", 0.0)
    assert state.expired(1.0) == ["a"]
    assert state.attempt_failed("a") and state.launch("a", started=1.0) == 2
    assert state.next_deadline(1.5) == 0.5 and state.expired(1.9) == []
    assert state.expired(2.0) == ["a"]


def test_finished_attempts_never_expire() -> None:
    state = _launched(
        {"a": (), "b": (), "c": ()}, retries={"c": 1}, timeouts=dict.fromkeys("abc", 1.0)
    )
    for s in "abc":
        state.attempt_started(s, 0.0)
    state.complete("a")
    state.attempt_failed("b")
    state.fail("b")
    state.attempt_failed("c")  # retried: the caller launches it again, unstarted
    state.launch("c")
    assert state.expired(1e9) == [] and state.next_deadline(0.0) is None
    assert list(state.awaiting_start) == ["c"]


def test_expired_attempts_come_in_launch_order() -> None:
    state = RunState({"a": (), "b": (), "c": ()}, timeouts={"a": 5.0, "b": 1.0, "c": 1.0})
    state.take_ready()
    state.launch("a", started=0.0)  # deadline 5
    state.launch("b")
    state.launch("c", started=2.0)  # deadline 3
    state.attempt_started("b", 3.5)  # deadline 4.5
    assert state.next_deadline(0.0) == 3.0
    assert state.expired(10.0) == ["a", "b", "c"]


def test_cancel_forgets_deadlines() -> None:
    state = _launched({"a": ()}, timeouts={"a": 1.0})
    state.attempt_started("a", 0.0)
    assert state.cancel() == ["a"]
    assert not state.timing and state.expired(1e9) == []


@given(dags(), st.data(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_failed_attempt_is_retried_exactly_while_retries_are_left(
    upstream: dict[str, tuple[str, ...]], data: st.DataObject, keep_going: bool
) -> None:
    retries = {s: data.draw(st.integers(0, 2)) for s in upstream}
    state = RunState(upstream, continue_on_step_failure=keep_going, retries=retries)
    running: list[str] = []
    while True:
        for s in state.take_ready():
            assert state.launch(s) == 1
            running.append(s)
        if not running:
            break
        s = running.pop(data.draw(st.integers(0, len(running) - 1)))
        if data.draw(st.booleans()):
            state.complete(s)
            continue
        stopped, n = state.stopped, state.attempt(s)
        if state.attempt_failed(s):
            assert not stopped and n <= retries[s]
            assert state.launch(s) == n + 1
            running.append(s)
        else:
            assert stopped or n == retries[s] + 1
            state.fail(s)
    assert state.done
    for s in upstream:
        assert state.attempt(s) <= retries[s] + 1
        assert (state.attempt(s) == 0) == (state.status[s] is Status.SKIPPED)


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_deadlines_match_a_naive_model(data: st.DataObject) -> None:
    steps = [f"s{i}" for i in range(6)]
    timeouts = {s: data.draw(st.one_of(st.none(), st.integers(1, 5).map(float))) for s in steps}
    state = RunState(dict.fromkeys(steps, ()), continue_on_step_failure=True, timeouts=timeouts)
    state.take_ready()
    model: dict[str, tuple[int, float | None]] = {}  # step → (launch order, deadline)
    now, order = 0.0, 0
    for _ in range(data.draw(st.integers(1, 30))):
        step = data.draw(st.sampled_from(steps))
        op = data.draw(st.sampled_from(["launch", "start", "end", "tick", "expire"]))
        if op == "launch" and state.status[step] is not Status.COMPLETED:
            started = data.draw(st.sampled_from([None, now]))
            state.launch(step, started)
            if timeouts[step] is not None:
                order += 1
                deadline = None if started is None else started + timeouts[step]
                model[step] = (order, deadline)
        elif op == "start" and step in model:
            state.attempt_started(step, now)
            if model[step][1] is None:
                model[step] = (model[step][0], now + timeouts[step])  # type: ignore[operator]
        elif op == "end" and state.status[step] is Status.RUNNING:
            state.complete(step)
            model.pop(step, None)
        elif op == "tick":
            now += data.draw(st.sampled_from([0.5, 1.0, 2.0]))
        elif op == "expire":
            late = sorted((o, s) for s, (o, d) in model.items() if d is not None and d <= now)
            assert state.expired(now) == [s for _, s in late]
            for _, s in late:
                del model[s]
        deadlines = [d for _, d in model.values() if d is not None]
        expect = max(0.0, min(deadlines) - now) if deadlines else None
        assert state.next_deadline(now) == expect
        assert set(state.awaiting_start) == {s for s, (_, d) in model.items() if d is None}
        assert state.timing == bool(model)
