"""Steps → a deterministic topological order (pure Python), and the ``networkx.DiGraph`` on demand.

Tracing needs only the order and the cycle check: they take one pass over the steps, so a
10,000-step pipeline is not built into a networkx graph before it runs. The graph (for
drawing, and for users who inspect ``pipe.graph``) is built from the steps when first asked.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from .model import Step


def topological_order(name: str, steps: Sequence[Step], problems: list[str]) -> list[str]:
    """The step names in a topological order, creation order breaking ties.

    It is the order ``networkx.lexicographical_topological_sort`` gives with the creation
    index as key: of the steps whose upstream steps are all placed, the earliest created.

    Args:
        name: the pipeline name (for messages).
        steps: the traced steps in creation order.
        problems: a cycle is appended here (the creation order is returned then).
    """
    rank = {s.name: i for i, s in enumerate(steps)}
    waiting = [0] * len(steps)
    down: list[list[int]] = [[] for _ in steps]
    for i, s in enumerate(steps):
        for u in s.upstream:
            down[rank[u]].append(i)
            waiting[i] += 1
    ready = [i for i, n in enumerate(waiting) if n == 0]  # ascending: already a heap
    order: list[str] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(steps[i].name)
        for d in down[i]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, d)
    if len(order) == len(steps):
        return order
    import networkx as nx

    cycle = nx.find_cycle(build_graph(name, steps))
    path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
    problems.append(
        f"pipeline {name!r} has a cycle: {path}; remove one of the .after() calls that close it"
    )
    return [s.name for s in steps]


def build_graph(name: str, steps: Sequence[Step]) -> nx.DiGraph:
    """The DAG of ``steps``: nodes carry ``component``; edges carry ``kind`` ("data" or
    "order") and the ``inputs`` fed, as ``(output, argument)`` pairs.

    Args:
        name: the pipeline name (the graph's ``name``).
        steps: the steps (in creation or topological order: nodes are added in that order).
    """
    import networkx as nx  # on first use: `import headrace.engine` stays light

    g = nx.DiGraph(name=name)
    for s in steps:
        g.add_node(s.name, component=s.component.name)
    for s in steps:
        for arg, b in s.bindings.items():
            if b.source == "output":
                data = g.get_edge_data(b.step, s.name) or {"kind": "data", "inputs": ()}
                g.add_edge(b.step, s.name, kind="data", inputs=(*data["inputs"], (b.name, arg)))
        for a in s.after:
            if not g.has_edge(a, s.name):
                g.add_edge(a, s.name, kind="order", inputs=())
    return g
