"""The mutation kinds: each edits a project and says which steps' own ingredients changed.

A step's *own* ingredients are its code (with everything it reaches), its parameter values
(as the step sees them, after coercion) and the content of its path inputs. Whether its
upstream outputs changed is not the mutation's business: the checker compares them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from .model import CONST_KINDS, MODULES, Spec
from .project import Project

Draw = Callable[[Any], Any]


@dataclass
class Effect:
    """What a mutation did.

    Attributes:
        what: a one-line description (for failure reports).
        direct: steps whose own ingredients the mutation means to change (for the reason
            check; whether a step must re-run is decided by its signature, see check.py).
        mode: how the next run must load the code, when the mutation needs one.
    """

    what: str
    direct: set[str] = field(default_factory=set)
    mode: str | None = None  # how the next run must load the code (else drawn)


def _pick(draw: Draw, items: list[Any], prefer: list[Any] | None = None) -> Any:
    """One of ``items``, usually one of ``prefer`` (the ones some step reaches) when any."""
    if prefer and draw(st.integers(0, 4)) > 0:
        return draw(st.sampled_from(prefer))
    return draw(st.sampled_from(items))


def _nonzero(draw: Draw, lo: int = -4, hi: int = 4) -> int:
    d = draw(st.integers(lo, hi - 1))  # no filter: a rejected draw discards the whole example
    return d if d < 0 else d + 1


# --- inputs ----------------------------------------------------------------------------


def input_same_size_mtime(p: Project, draw: Draw) -> Effect:
    """Other bytes at the same size, and the old mtime (atime too) put back."""
    name = draw(st.sampled_from(sorted(p.inputs)))
    target = draw(st.sampled_from(p.input_files(name)))
    old = target.read_bytes()
    new = bytes(draw(st.binary(min_size=len(old), max_size=len(old))))
    if new == old:
        new = bytes([(old[0] + 1) % 256]) + old[1:]
    st_ = os.stat(target)
    in_place = draw(st.booleans())
    if in_place:
        with open(target, "r+b") as handle:
            handle.write(new)
        os.utime(target, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    else:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(new)
        os.utime(tmp, ns=(st_.st_atime_ns, st_.st_mtime_ns))
        os.replace(tmp, target)
    how = "in place" if in_place else "replaced by rename"
    direct = {s.name for s in p.spec.steps if s.path_in == name}
    return Effect(f"{target.relative_to(p.root)}: same size and mtime, new bytes ({how})", direct)


def touch(p: Project, draw: Draw) -> Effect:
    """A new mtime, the same bytes: an input file, or a source module."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(p.inputs)))
        target = draw(st.sampled_from(p.input_files(name)))
        p.bump(target)
        return Effect(f"touched {target.relative_to(p.root)}")
    module = draw(st.sampled_from(MODULES))
    p.bump(p.path_of(module))
    p.dirty.add(module)
    return Effect(f"touched module {module}")


def move(p: Project, draw: Draw) -> Effect:
    """Move an input file or folder elsewhere; the parameter gives its new path."""
    name = draw(st.sampled_from(sorted(p.inputs)))
    old = p.inputs[name]
    new = p.root / f"moved{draw(st.integers(0, 10**6))}" / draw(st.sampled_from(("x", old.name)))
    while new.exists() or new == old:
        new = new.with_name(new.name + "_")
    new.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(old, new)
    p.inputs[name] = new
    return Effect(f"moved {old.relative_to(p.root)} -> {new.relative_to(p.root)}")


# --- parameters ------------------------------------------------------------------------


def _param_steps(spec: Spec) -> list[str]:
    return [s.name for s in spec.steps if s.param is not None]


def parameter(p: Project, draw: Draw) -> Effect:
    """A new value for a step's parameter: pipeline parameter, pipeline-body literal, default."""
    step = draw(st.sampled_from(_param_steps(p.spec)))
    param = p.spec.step(step).param
    assert param is not None
    old = p.param_value(step)
    new: int | float = old + _nonzero(draw)
    if param.annotation == "float":
        new = old + _nonzero(draw) / 2
    if param.binding == "pipeline":
        p.values[f"q_{step}"] = (new, repr(new))
    elif param.binding == "literal":
        param.literal = repr(new)
    else:
        param.default, param.default_text = new, ""
    p.write_sources()
    return Effect(f"{step}.p ({param.binding}) {old!r} -> {new!r}", {step})


def parameter_other_type(p: Project, draw: Draw) -> Effect:
    """The same value as another type (or spelled otherwise); coercion makes it the same."""
    step = draw(st.sampled_from(_param_steps(p.spec)))
    param = p.spec.step(step).param
    assert param is not None
    v = p.param_value(step)
    if param.annotation == "int":
        choices: list[Any] = [float(v), str(v)]
        texts = [f"+{v}" if v >= 0 else f"-0{-v}", f"0{v}" if v >= 0 else str(v), f"{v}"]
    else:
        choices = [str(v)] + ([int(v)] if float(v).is_integer() else [])
        texts = [f"{v}0", f"+{v}" if v >= 0 else f"{v}", f"{v:e}"]
    value, text = draw(st.sampled_from(choices)), draw(st.sampled_from(texts))
    if param.binding == "pipeline":
        p.values[f"q_{step}"] = (value, text)
        direct: set[str] = set()
    elif param.binding == "literal":
        param.literal = repr(value)
        direct = set()
    else:  # the component's signature changes (when the text does): its code does
        direct = {step} if param.default_text != repr(value) else set()
        param.default_text = repr(value)
    p.write_sources()
    return Effect(f"{step}.p ({param.binding}) {v!r} given as {value!r} / {text!r}", direct)


# --- code ------------------------------------------------------------------------------


def component(p: Project, draw: Draw) -> Effect:
    step = draw(st.sampled_from([s.name for s in p.spec.steps]))
    s = p.spec.step(step)
    s.coef += _nonzero(draw)
    p.write_sources()
    return Effect(f"component {step}: coef -> {s.coef}", {step})


def _helper_edit(p: Project, draw: Draw, module: str) -> Effect:
    names = sorted(n for n, h in p.spec.helpers.items() if h.module == module)
    reached = [n for n in names if p.spec.reaching(n)]
    name = _pick(draw, names, reached)
    h = p.spec.helpers[name]
    new = draw(st.integers(1, 11))
    h.coef = new if new < h.coef else new + 1
    p.write_sources()
    return Effect(f"helper {module}.{name}: coef -> {h.coef}", p.spec.reaching(name))


def helper(p: Project, draw: Draw) -> Effect:
    return _helper_edit(p, draw, "helpers")


def helper_other_module(p: Project, draw: Draw) -> Effect:
    return _helper_edit(p, draw, "other")


def _edit_value(kind: str, value: Any, draw: Draw) -> Any:
    if kind == "int" or kind == "built":
        return value + _nonzero(draw, 1 - value if kind == "built" else -4)
    if kind == "float":
        return value + _nonzero(draw) / 2
    if kind == "str":
        text = draw(st.text("abcxyz", min_size=1, max_size=5))
        return text if text != value else text + "z"
    if kind in ("tuple", "ndarray"):
        i = draw(st.integers(0, len(value) - 1))
        return value[:i] + (value[i] + _nonzero(draw, 1 - value[i], 4),) + value[i + 1 :]
    if kind == "set":
        extra = draw(st.integers(10, 20))
        return frozenset(value) ^ {extra}
    return value.replace(".csv", f"{draw(st.integers(0, 9))}.csv")  # a path


def _const_edit(p: Project, draw: Draw, kind: str) -> Effect:
    names = sorted(n for n, c in p.spec.consts.items() if c.kind == kind)
    c = p.spec.consts[_pick(draw, names, [n for n in names if p.spec.reaching(n)])]
    old = c.lines()
    c.value, c.alt = _edit_value(kind, c.value, draw), False
    p.write_sources()
    return Effect(
        f"{c.module}: {' / '.join(old)} -> {' / '.join(c.lines())}", p.spec.reaching(c.name)
    )


def const_other_type(p: Project, draw: Draw) -> Effect:
    """An equal value of another type: 3 -> 3.0, {1} -> frozenset({1}), Path -> PurePosixPath."""
    names = sorted(n for n, c in p.spec.consts.items() if c.alt_possible())
    c = p.spec.consts[_pick(draw, names, [n for n in names if p.spec.reaching(n)])]
    old = c.lines()
    c.alt = not c.alt
    p.write_sources()
    return Effect(
        f"{c.module}: {' / '.join(old)} -> {' / '.join(c.lines())}", p.spec.reaching(c.name)
    )


COMMENTS = ("# a note", "#", "", "    # indented note", "  # trailing", "# é ünïcode")


def comment_only(p: Project, draw: Draw) -> Effect:
    """A comment (or a blank line) anywhere in any module."""
    module = draw(st.sampled_from(MODULES))
    blocks = [name for name, _ in p.spec._blocks(module)]
    block = draw(st.sampled_from(blocks))
    offset = draw(st.integers(0, 12))
    text = draw(st.sampled_from(COMMENTS))
    if text and draw(st.booleans()):
        text += f" {draw(st.integers(0, 999))}"
    p.spec.comments.setdefault(module, []).append((block, offset, text))
    p.write_sources()
    return Effect(f"comment {text!r} in {module} at {block}+{offset}")


def upstream_identical_bytes(p: Project, draw: Draw) -> Effect:
    """A code edit to a step that has dependants, which leaves its output byte for byte alike."""
    step = draw(st.sampled_from([s.name for s in p.spec.steps if p.spec.downstream(s.name)]))
    p.spec.step(step).noops.append(draw(st.integers(0, 99)))
    p.write_sources()
    return Effect(f"no-op statement added to {step}", {step})


def runtime_state(p: Project, draw: Draw) -> Effect:
    """No edit: run again in this process on the modules as the last run left them (memo
    dicts filled, lru caches warm, RNG constants untouched: components copy them)."""
    return Effect("nothing edited; the same loaded modules run again", mode="same")


def _const_kind(kind: str) -> Callable[[Project, Draw], Effect]:
    def edit(p: Project, draw: Draw) -> Effect:
        return _const_edit(p, draw, kind)

    edit.__name__ = f"const_{kind}"
    return edit


KINDS: dict[str, Callable[[Project, Draw], Effect]] = {
    "input_same_size_mtime": input_same_size_mtime,
    "touch": touch,
    "move": move,
    "parameter": parameter,
    "parameter_other_type": parameter_other_type,
    "component": component,
    "helper": helper,
    "helper_other_module": helper_other_module,
    **{f"const_{k}": _const_kind(k) for k in CONST_KINDS},
    "const_other_type": const_other_type,
    "comment_only": comment_only,
    "upstream_identical_bytes": upstream_identical_bytes,
    "runtime_state": runtime_state,
}
