"""The PNG's layout: edges go beside the boxes of the rows they cross, never through a box."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from headrace.engine.render.layout import plan

QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart.py"
BOX_W, BOX_H = 0.8, 0.5  # in slot and row units, as the PNG draws them (box < slot, < row)


def _crossed_boxes(graph: nx.DiGraph) -> list[tuple[tuple[str, str], str]]:
    """(edge, box) pairs where the edge's drawn polyline enters a box it does not connect."""
    layout = plan(graph)
    found = []
    for (u, v), points in layout.routes.items():
        verts = [(points[0][0], points[0][1] + BOX_H / 2)]
        for x, row in points[1:-1]:
            verts += [(x, row - BOX_H / 2), (x, row + BOX_H / 2)]
        verts.append((points[-1][0], points[-1][1] - BOX_H / 2))
        for (x0, y0), (x1, y1) in zip(verts, verts[1:], strict=False):
            for step in range(101):
                t = step / 100
                px, py = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
                for n, (bx, brow) in layout.boxes.items():
                    if n in (u, v):
                        continue
                    if abs(px - bx) < BOX_W / 2 and abs(py - brow) < BOX_H / 2:
                        found.append(((u, v), n))
    return found


def test_the_quickstart_prep_to_evaluate_edge_goes_around_train():
    from headrace.engine.definitions.loader import load_pipeline

    graph = load_pipeline(str(QUICKSTART)).definition.graph
    assert ("prep", "evaluate") in graph.edges
    layout = plan(graph)
    route = layout.routes[("prep", "evaluate")]
    assert len(route) == 3 and route[1][1] == layout.boxes["train"][1]  # a waypoint in train's row
    assert route[1][0] != layout.boxes["train"][0]  # beside train, not through it
    assert _crossed_boxes(graph) == []


@st.composite
def dags(draw: st.DrawFn) -> nx.DiGraph:
    n = draw(st.integers(1, 9))
    graph = nx.DiGraph()
    graph.add_nodes_from(f"s{i}" for i in range(n))
    for j in range(1, n):
        for i in draw(st.sets(st.integers(0, j - 1), max_size=3)):
            graph.add_edge(f"s{i}", f"s{j}")
    return graph


@settings(max_examples=60, deadline=None)
@given(dags())
def test_no_edge_is_drawn_through_a_box(graph):
    layout = plan(graph)
    for (u, v), points in layout.routes.items():
        rows = [row for _, row in points]
        assert rows == list(range(rows[0], rows[0] + len(rows)))  # one point per row crossed
        assert points[0] == layout.boxes[u] and points[-1] == layout.boxes[v]
    for row in range(layout.rows):  # boxes and waypoints keep a whole slot apart in a row
        xs = sorted(
            [x for x, r in layout.boxes.values() if r == row]
            + [x for pts in layout.routes.values() for x, r in pts[1:-1] if r == row]
        )
        assert all(b - a >= 1 for a, b in zip(xs, xs[1:], strict=False))
    assert _crossed_boxes(graph) == []
