"""The send-ahead Dispatcher's decisions on small DAGs, driven through a real RunState."""

from __future__ import annotations

from concurrent.futures import Future

from headrace.engine.execution.dispatch import Dispatcher, InFlight
from headrace.engine.execution.state import RunState
from tests.engine.dags import chain, diamond

CHAIN = {n: s.upstream for n, s in chain.definition.steps.items()}
DIAMOND = {n: s.upstream for n, s in diamond.definition.steps.items()}
# make_numbers → scale → total;  diamond: make_numbers → scale → total ┐
#                                         make_numbers → scale_2 → total_2 ┴→ add


class Sender:
    """Stands in for the runner's send: records what goes ahead on what."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, step: str, after: tuple[str, ...]) -> InFlight:
        self.sent.append((step, after))
        return InFlight(step, 1, Future(), None, 0.0, 0.0)


def _run(upstream: dict[str, tuple[str, ...]]) -> tuple[RunState, Dispatcher, Sender]:
    state = RunState(upstream)
    return state, Dispatcher(state, upstream), Sender()


def _launch(state: RunState, dispatch: Dispatcher, *steps: str) -> None:
    """The runner's part: steps go in flight and the dispatcher hears of it."""
    for s in steps:
        state.launch(s)
        dispatch.moved(s)


def test_nothing_goes_ahead_before_a_step_is_in_flight() -> None:
    state, dispatch, send = _run(CHAIN)
    assert state.take_ready() == ["make_numbers"]
    assert dispatch.send_ahead(send) == [] and send.sent == []


def test_a_chain_goes_out_whole_once_its_first_step_runs() -> None:
    state, dispatch, send = _run(CHAIN)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    assert dispatch.send_ahead(send) == ["scale", "total"]
    assert send.sent == [("scale", ("make_numbers",)), ("total", ("scale",))]
    assert dispatch.in_flight("total") and sorted(dispatch.ahead) == ["scale", "total"]
    assert dispatch.send_ahead(send) == []  # each step goes ahead once


def test_a_diamond_join_goes_ahead_on_both_branches() -> None:
    state, dispatch, send = _run(DIAMOND)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    assert dispatch.send_ahead(send) == ["scale", "scale_2", "total", "total_2", "add"]
    assert send.sent[-1] == ("add", ("total", "total_2"))


def test_a_join_waits_until_every_branch_is_in_flight() -> None:
    state, dispatch, send = _run(DIAMOND)
    state.take_ready()
    state.launch("make_numbers")
    state.complete("make_numbers")
    assert state.take_ready() == ["scale", "scale_2"]
    _launch(state, dispatch, "scale")
    assert dispatch.send_ahead(send) == ["total"]  # add also needs total_2 in flight
    _launch(state, dispatch, "scale_2")
    assert dispatch.send_ahead(send) == ["total_2", "add"]
    assert send.sent[-1] == ("add", ("total", "total_2"))


def test_completed_upstream_steps_are_not_waited_for() -> None:
    state, dispatch, send = _run(DIAMOND)
    state.take_ready()
    for s in ("make_numbers", "scale", "total"):
        state.launch(s)
        state.complete(s)
        state.take_ready()
    _launch(state, dispatch, "scale_2")
    assert dispatch.send_ahead(send) == ["total_2", "add"]
    assert send.sent[-1] == ("add", ("total_2",))


def test_adopting_hands_over_the_attempt_sent_ahead() -> None:
    state, dispatch, send = _run(CHAIN)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    dispatch.send_ahead(send)
    flight = dispatch.adopt("scale")
    assert flight is not None and flight.step == "scale"
    assert dispatch.adopt("scale") is None and list(dispatch.ahead) == ["total"]
    assert dispatch.adopt("make_numbers") is None  # it was not sent ahead


def test_a_failed_attempt_drops_what_was_sent_on_it_transitively() -> None:
    state, dispatch, send = _run(DIAMOND)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    dispatch.send_ahead(send)
    dropped = dispatch.drop("make_numbers")
    assert sorted(f.step for f in dropped) == ["add", "scale", "scale_2", "total", "total_2"]
    assert dispatch.ahead == {}
    assert state.attempt_failed("make_numbers") is False  # no retries: the runner fails it


def test_a_retry_is_sent_ahead_on_again() -> None:
    state = RunState(CHAIN, retries={"make_numbers": 1})
    dispatch, send = Dispatcher(state, CHAIN), Sender()
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    dispatch.send_ahead(send)
    assert [f.step for f in dispatch.drop("make_numbers")] == ["scale", "total"]
    assert state.attempt_failed("make_numbers")
    _launch(state, dispatch, "make_numbers")  # attempt 2
    assert dispatch.send_ahead(send) == ["scale", "total"]


def test_a_failed_branch_drops_only_what_was_built_on_it() -> None:
    state, dispatch, send = _run(DIAMOND)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    dispatch.send_ahead(send)
    state.complete("make_numbers")
    for s in state.take_ready():  # the runner adopts both branches
        assert dispatch.adopt(s) is not None
        state.launch(s)
    assert [f.step for f in dispatch.drop("scale")] == ["total", "add"]
    assert list(dispatch.ahead) == ["total_2"]
    assert dispatch.drop("total_2") == []  # nothing was sent ahead on it any more


def test_a_step_reused_at_launch_lets_its_dependants_go_ahead_again() -> None:
    state, dispatch, send = _run(CHAIN)
    state.take_ready()
    _launch(state, dispatch, "make_numbers")
    dispatch.send_ahead(send)
    state.complete("make_numbers")
    assert state.take_ready() == ["scale"]
    assert dispatch.adopt("scale") is not None  # the runner finds scale in the cache:
    assert [f.step for f in dispatch.drop("scale")] == ["total"]  # total was built on its attempt
    state.complete("scale")
    dispatch.moved("scale")
    assert dispatch.send_ahead(send) == []  # total is ready now, not ahead
    assert state.take_ready() == ["total"]


def test_a_run_stopped_by_a_failure_drops_everything_and_sends_nothing_more() -> None:
    upstream = {"a": (), "b": ("a",), "c": (), "d": ("c",), "e": ("d",)}
    state, dispatch, send = _run(upstream)
    assert state.take_ready() == ["a", "c"]
    _launch(state, dispatch, "a", "c")
    assert dispatch.send_ahead(send) == ["b", "d", "e"]
    assert [f.step for f in dispatch.drop("a")] == ["b"]  # a failed for good
    state.fail("a")
    assert state.stopped
    assert [f.step for f in dispatch.drop_all()] == ["d", "e"]
    dispatch.moved("c")
    assert dispatch.send_ahead(send) == [] and dispatch.ahead == {}


def test_with_continue_on_step_failure_other_branches_stay_ahead() -> None:
    upstream = {"a": (), "b": ("a",), "c": (), "d": ("c",)}
    state = RunState(upstream, continue_on_step_failure=True)
    dispatch, send = Dispatcher(state, upstream), Sender()
    state.take_ready()
    _launch(state, dispatch, "a", "c")
    dispatch.send_ahead(send)
    assert [f.step for f in dispatch.drop("a")] == ["b"]
    assert state.fail("a") == ["b"] and not state.stopped
    assert list(dispatch.ahead) == ["d"]
