"""Steps → ``networkx.DiGraph``: cycle checks and a deterministic topological order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from .model import Step


def build_graph(
    name: str, steps: Sequence[Step], problems: list[str]
) -> tuple[nx.DiGraph, list[str]]:
    """Build the DAG of ``steps`` and a deterministic topological order.

    Args:
        name: the pipeline name (for messages).
        steps: the traced steps in creation order.
        problems: cycles are appended here.

    Returns:
        The graph (nodes carry ``component``; edges carry ``kind`` "data" or "order" and the
        ``inputs`` fed) and the step names in topological order (creation order breaks ties).
    """
    import networkx as nx  # on first trace: `import headrace.engine` stays light

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
    rank = {s.name: i for i, s in enumerate(steps)}
    try:
        return g, list(nx.lexicographical_topological_sort(g, key=rank.__getitem__))
    except nx.NetworkXUnfeasible:  # a cycle: find one to name
        cycle = nx.find_cycle(g)
    path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
    problems.append(
        f"pipeline {name!r} has a cycle: {path}; remove one of the .after() calls that close it"
    )
    return g, [s.name for s in steps]
