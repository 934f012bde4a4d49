"""build_graph and topological_order: data and order edges, a deterministic order, the cycle message."""

from __future__ import annotations

import heapq
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine import component
from headrace.engine.definitions.graph import build_graph, topological_order
from headrace.engine.definitions.model import Binding, Step


@component
def node(a: float = 0.0, b: float = 0.0) -> tuple[float, float]:
    return a, b


def step(name: str, *, data: dict[str, tuple[str, str]] | None = None, after=()) -> Step:
    """A step whose inputs ``arg -> (producer, output)`` come from other steps."""
    bindings = {
        arg: Binding("output", name=output, step=producer)
        for arg, (producer, output) in (data or {}).items()
    }
    return Step(name, node, bindings, tuple(after))


def test_edges_carry_their_kind_and_the_inputs_they_feed() -> None:
    steps = [
        step("src"),
        step("both", data={"a": ("src", "output_0"), "b": ("src", "output_1")}),
        step("ordered", after=["src"]),
        step("data_and_after", data={"a": ("both", "output_0")}, after=["both"]),
    ]
    problems: list[str] = []
    order = topological_order("p", steps, problems)
    g = build_graph("p", steps)
    assert problems == [] and g.graph["name"] == "p"
    assert dict(g.nodes(data="component")) == {n: "node" for n in order}
    assert g.edges["src", "both"] == {
        "kind": "data",
        "inputs": (("output_0", "a"), ("output_1", "b")),
    }
    assert g.edges["src", "ordered"] == {"kind": "order", "inputs": ()}
    # .after() on a step that already feeds data adds nothing: the edge stays a data edge.
    assert g.edges["both", "data_and_after"] == {"kind": "data", "inputs": (("output_0", "a"),)}
    assert g.number_of_edges() == 3


def test_independent_steps_keep_creation_order_not_alphabetical() -> None:
    steps = [step("zeta"), step("alpha"), step("mid")]
    assert topological_order("p", steps, []) == ["zeta", "alpha", "mid"]


def test_a_step_waits_for_a_later_created_step_it_runs_after() -> None:
    steps = [step("first", after=["late"]), step("other"), step("late")]
    # "other" is free from the start and created before "late": it comes first.
    assert topological_order("p", steps, []) == ["other", "late", "first"]


def test_ties_after_a_join_break_by_creation_order() -> None:
    steps = [
        step("root"),
        step("b", data={"a": ("root", "output_0")}),
        step("a", data={"a": ("root", "output_0")}),
        step("tail"),
    ]
    assert topological_order("p", steps, []) == ["root", "b", "a", "tail"]


def test_a_cycle_is_reported_with_its_path_and_the_fix() -> None:
    steps = [
        step("load", after=["report"]),
        step("train", data={"a": ("load", "output_0")}),
        step("report", data={"a": ("train", "output_0")}),
    ]
    problems: list[str] = []
    order = topological_order("loop", steps, problems)
    assert problems == [
        "pipeline 'loop' has a cycle: load -> train -> report -> load; "
        "remove one of the .after() calls that close it"
    ]
    assert order == ["load", "train", "report"]  # creation order, for the other checks


def test_a_step_after_itself_is_a_cycle() -> None:
    problems: list[str] = []
    topological_order("selfish", [step("s", after=["s"])], problems)
    assert problems == [
        "pipeline 'selfish' has a cycle: s -> s; remove one of the .after() calls that close it"
    ]


@st.composite
def random_dags(draw: st.DrawFn) -> tuple[list[Step], list[tuple[str, str]]]:
    """Steps of a random DAG, created in a random order, with their edges."""
    n = draw(st.integers(min_value=1, max_value=12))
    rank = draw(st.permutations(range(n)))  # topological rank -> creation position
    names = [f"s{i}" for i in range(n)]
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
            .filter(lambda e: e[0] < e[1])
            .map(lambda e: (names[e[0]], names[e[1]])),
            unique=True,
            max_size=n * 2,
        )
        if n > 1
        else st.just([])
    )
    as_data = draw(st.lists(st.booleans(), min_size=len(edges), max_size=len(edges)))
    steps = []
    for name in sorted(names, key=lambda s: rank[int(s[1:])]):
        incoming = [(u, d) for (u, v), d in zip(edges, as_data, strict=True) if v == name]
        data = {f"in{i}": (u, "output_0") for i, (u, d) in enumerate(incoming) if d}
        steps.append(step(name, data=data, after=[u for u, d in incoming if not d]))
    return steps, edges


def reference_order(steps: list[Step], edges: list[tuple[str, str]]) -> list[str]:
    """Kahn's algorithm taking the earliest-created ready step each time."""
    rank = {s.name: i for i, s in enumerate(steps)}
    waiting = {s.name: {u for u, v in edges if v == s.name} for s in steps}
    ready = [(rank[n], n) for n, w in waiting.items() if not w]
    heapq.heapify(ready)
    order = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for m, w in waiting.items():
            if n in w:
                w.discard(n)
                if not w:
                    heapq.heappush(ready, (rank[m], m))
    return order


@settings(max_examples=200, deadline=None)
@given(random_dags())
def test_random_dags_order_respects_every_edge_deterministically(dag) -> None:
    steps, edges = dag
    problems: list[str] = []
    order = topological_order("random", steps, problems)
    g = build_graph("random", steps)
    assert problems == []
    assert sorted(order) == sorted(s.name for s in steps)
    assert set(g.edges) == set(edges)
    position = {n: i for i, n in enumerate(order)}
    assert all(position[u] < position[v] for u, v in edges)
    assert order == reference_order(steps, edges)
    assert topological_order("random", list(steps), []) == order  # same input, same order
    import networkx as nx

    rank = {s.name: i for i, s in enumerate(steps)}.__getitem__
    assert order == list(nx.lexicographical_topological_sort(g, key=rank))  # as networkx


@settings(max_examples=100, deadline=None)
@given(random_dags(), st.data())
def test_random_back_edges_are_reported_as_a_real_cycle(dag, data) -> None:
    steps, edges = dag
    u, v = data.draw(st.sampled_from([*edges, (steps[0].name, steps[0].name)]))
    # u already reaches v (an edge u -> v, or u is v): making u wait for v closes a cycle.
    closed = [
        Step(s.name, s.component, s.bindings, (*s.after, v)) if s.name == u else s for s in steps
    ]
    problems: list[str] = []
    order = topological_order("random", closed, problems)
    g = build_graph("random", closed)
    assert order == [s.name for s in closed]
    (problem,) = problems
    match = re.fullmatch(
        r"pipeline 'random' has a cycle: (.+); remove one of the \.after\(\) calls that close it",
        problem,
    )
    assert match is not None, problem
    path = match.group(1).split(" -> ")
    assert path[0] == path[-1] and len(path) >= 2
    assert all(g.has_edge(a, b) for a, b in zip(path, path[1:], strict=False))
