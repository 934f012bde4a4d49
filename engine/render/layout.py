"""A layered (Sugiyama-style) drawing plan: boxes in rows, edges routed between them, never through.

Every edge that spans more than one row goes through a waypoint in each row it crosses; a
waypoint takes a slot of its own in its row, like a box, so an edge passes beside the boxes
of the rows it crosses and never through one. Slots are ordered by a few barycenter sweeps
to keep crossings few. Pure: a graph in, coordinates out (the PNG renderer draws them).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Plan:
    """Where everything goes, in slot units (x) and rows (y, 0 at the top).

    Attributes:
        boxes: Node -> (x, row) of its box's center.
        routes: (u, v) -> the points the edge passes, from u's row to v's row.
        width: Slots in the widest row.
        rows: Number of rows.
    """

    boxes: dict[str, tuple[float, int]]
    routes: dict[tuple[str, str], list[tuple[float, int]]]
    width: int
    rows: int


def plan(graph: nx.DiGraph, sweeps: int = 4) -> Plan:
    """Lay out ``graph`` (a DAG) top-down: a node's row is its longest path from a source."""
    row = _rows(graph)
    slots: dict[int, list[object]] = {r: [] for r in range(max(row.values(), default=-1) + 1)}
    chains: dict[tuple[str, str], list[object]] = {}
    for n in nx.topological_sort(graph):
        slots[row[n]].append(n)
    for u, v in graph.edges:
        chain: list[object] = [u]
        for r in range(row[u] + 1, row[v]):
            waypoint = ("waypoint", u, v, r)
            slots[r].append(waypoint)
            chain.append(waypoint)
        chains[(u, v)] = [*chain, v]
    _order(slots, chains, sweeps)
    width = max((len(s) for s in slots.values()), default=1)
    x = {item: i + (width - len(s)) / 2 for s in slots.values() for i, item in enumerate(s)}
    rows_of = {item: r for r, s in slots.items() for item in s}
    boxes = {n: (x[n], row[n]) for n in graph.nodes}
    routes = {edge: [(x[p], rows_of[p]) for p in chain] for edge, chain in chains.items()}
    return Plan(boxes, routes, width, len(slots))


def _rows(graph: nx.DiGraph) -> dict[str, int]:
    row: dict[str, int] = {}
    for n in nx.topological_sort(graph):
        row[n] = max((row[p] + 1 for p in graph.predecessors(n)), default=0)
    return row


def _order(
    slots: dict[int, list[object]], chains: dict[tuple[str, str], list[object]], sweeps: int
) -> None:
    """Reorder each row by the mean position of its neighbours above, then below (in place)."""
    up: dict[object, list[object]] = {}
    down: dict[object, list[object]] = {}
    for chain in chains.values():
        for a, b in zip(chain, chain[1:], strict=False):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    rows = sorted(slots)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        for r in rows[1:] if downward else rows[-2::-1]:
            near = slots[r - 1] if downward else slots[r + 1]
            slots[r] = _by_barycenter(slots[r], near, up if downward else down)


def _by_barycenter(
    row: list[object], near: list[object], neighbours: dict[object, list[object]]
) -> list[object]:
    """``row`` sorted by the mean index of each item's neighbours in ``near`` (stable)."""
    index = {item: i for i, item in enumerate(near)}
    current = {item: i for i, item in enumerate(row)}

    def centre(item: object) -> float:
        seen = [index[n] for n in neighbours.get(item, []) if n in index]
        return sum(seen) / len(seen) if seen else current[item]

    return sorted(row, key=lambda item: (centre(item), current[item]))
