"""DAG drawings of a pipeline definition: plain text, Mermaid, Graphviz dot and PNG."""

from __future__ import annotations

from pathlib import Path

from ..definitions.component import NO_DEFAULT
from ..definitions.model import PipelineDefinition
from ..types import type_name


def render_text(defn: PipelineDefinition) -> str:
    """An indented plain-text listing: each step, its component, and where its inputs come from."""
    lines = [f"pipeline {defn.name}" + (f" — {defn.description}" if defn.description else "")]
    if defn.parameters:
        lines.append("parameters: " + ", ".join(_param_text(p) for p in defn.parameters))
    for name, step in defn.steps.items():
        lines.append(f"  {name}  [{step.component.name}]")
        for arg, b in step.bindings.items():
            src = {"output": f"{b.step}.{b.name}", "parameter": f"param {b.name}"}.get(
                b.source, repr(b.value)
            )
            lines.append(f"      {arg} <- {src}")
        if step.after:
            lines.append(f"      after {', '.join(step.after)}")
    return "\n".join(lines)


def _param_text(p: object) -> str:
    default = getattr(p, "default", NO_DEFAULT)
    text = f"{p.name}: {type_name(p.annotation)}"  # type: ignore[attr-defined]
    return text if default is NO_DEFAULT else f"{text} = {default!r}"


def _node_id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def render_mermaid(defn: PipelineDefinition) -> str:
    """A Mermaid ``flowchart`` of the DAG (data edges solid, order edges dotted)."""
    lines = ["flowchart TD"]
    for name, step in defn.steps.items():
        lines.append(f'    {_node_id(name)}["{name}<br/><small>{step.component.name}</small>"]')
    for u, v, data in defn.graph.edges(data=True):
        if data["kind"] == "data":
            label = ", ".join(f"{o}→{i}" for o, i in data["inputs"])
            lines.append(f"    {_node_id(u)} -->|{label}| {_node_id(v)}")
        else:
            lines.append(f"    {_node_id(u)} -.-> {_node_id(v)}")
    return "\n".join(lines)


def render_dot(defn: PipelineDefinition) -> str:
    """A Graphviz DOT description of the DAG."""
    lines = [f'digraph "{defn.name}" {{', "  rankdir=TB;", "  node [shape=box, style=rounded];"]
    for name, step in defn.steps.items():
        lines.append(f'  "{name}" [label="{name}\\n({step.component.name})"];')
    for u, v, data in defn.graph.edges(data=True):
        if data["kind"] == "data":
            label = ", ".join(f"{o}→{i}" for o, i in data["inputs"])
            lines.append(f'  "{u}" -> "{v}" [label="{label}"];')
        else:
            lines.append(f'  "{u}" -> "{v}" [style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def render_png(defn: PipelineDefinition, path: Path) -> Path:
    """Draw the DAG top-down into a PNG with matplotlib.

    Boxes sit in rows (a step's row is its longest path from a first step); an edge that
    skips rows is routed beside the boxes of the rows between (``layout.plan``), so no
    edge is drawn through a box it does not connect. Order-only edges are dashed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    from .layout import plan

    g = defn.graph
    layout = plan(g)
    labels = {n: f"{n}\n({g.nodes[n]['component']})" for n in g.nodes}
    chars = max((len(line) for t in labels.values() for line in t.split("\n")), default=8)
    box_w, box_h = max(1.2, 0.085 * chars + 0.3), 0.62  # inches, at 9 pt
    slot_w, row_h = box_w + 0.45, box_h + 0.75
    fig_w, fig_h = layout.width * slot_w + 0.4, layout.rows * row_h + 0.5

    def at(x: float, row: int) -> tuple[float, float]:
        return (0.2 + (x + 0.5) * slot_w, fig_h - 0.45 - (row + 0.5) * row_h)

    fig = plt.figure(figsize=(max(fig_w, 2.5), fig_h))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, max(fig_w, 2.5))
    ax.set_ylim(0, fig_h)
    ax.axis("off")
    for (u, v), points in layout.routes.items():
        xy = [at(*p) for p in points]
        verts = [(xy[0][0], xy[0][1] - box_h / 2)]
        for x, y in xy[1:-1]:  # waypoints: straight down beside the boxes of that row
            verts += [(x, y + box_h / 2), (x, y - box_h / 2)]
        verts.append((xy[-1][0], xy[-1][1] + box_h / 2))
        codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(verts) - 1)
        dashed = g.edges[u, v]["kind"] != "data"
        arrow = FancyArrowPatch(
            path=MplPath(verts, codes),
            arrowstyle="-|>",
            mutation_scale=12,
            color="#555555",
            linewidth=1.1,
            linestyle="--" if dashed else "-",
        )
        ax.add_patch(arrow)
    for n, (x, row) in layout.boxes.items():
        cx, cy = at(x, row)
        ax.add_patch(
            FancyBboxPatch(
                (cx - box_w / 2, cy - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0,rounding_size=0.08",
                fc="#e8f1fb",
                ec="#2f6db5",
                linewidth=1.2,
                zorder=3,
            )
        )
        ax.text(cx, cy, labels[n], ha="center", va="center", fontsize=9, zorder=4)
    ax.text(0.2, fig_h - 0.25, defn.name, ha="left", va="center", fontsize=10, weight="bold")
    fig.savefig(path, dpi=120, format="png")  # to ``path`` itself, whatever its suffix
    plt.close(fig)
    return path
