"""DAG drawings of a pipeline definition: plain text, Mermaid, Graphviz dot and PNG."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

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
    """Draw the DAG top-down into a PNG with matplotlib (layers = topological generations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = defn.graph.copy()
    for layer, nodes in enumerate(nx.topological_generations(g)):
        for n in nodes:
            g.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal", scale=1.0)
    pos = {n: (x, -y) for n, (x, y) in pos.items()}
    depth = max((d["layer"] for _, d in g.nodes(data=True)), default=0) + 1
    width = max((len(list(ns)) for ns in nx.topological_generations(g)), default=1)
    fig, ax = plt.subplots(figsize=(max(4, 2.6 * width), max(3, 1.4 * depth)))
    order_edges = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "order"]
    data_edges = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "data"]
    nx.draw_networkx_edges(g, pos, edgelist=data_edges, ax=ax, arrows=True, node_size=2500)
    nx.draw_networkx_edges(g, pos, edgelist=order_edges, ax=ax, style="dashed", node_size=2500)
    labels = {n: f"{n}\n({g.nodes[n]['component']})" for n in g.nodes}
    nx.draw_networkx_labels(
        g,
        pos,
        labels=labels,
        ax=ax,
        font_size=8,
        bbox={"boxstyle": "round", "fc": "#e8f1fb", "ec": "#2f6db5"},
    )
    ax.set_title(defn.name)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
