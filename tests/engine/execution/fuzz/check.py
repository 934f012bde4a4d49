"""Judging a run against the oracle: STALE and MISSED per mutation kind, and the table of counts.

Whether a step must re-run is decided by the fuzzer's own key for it, its *signature*
(``Project.signatures``): its code as rendered without comments, with every constant and
helper it reaches (from the model, ``Spec.reach``), its parameter's coerced value, its
input's bytes, and the oracle's outputs of its upstream steps. A step must re-run when its
signature was never seen in this workspace before (an edit that is reverted may reuse the
entry of the earlier run). A constant reached only as ``h.NAME`` or through an import inside
a body counts by its value in the *loose* signature and by its text in the *strict* one:
both make a sound key (the engine keyed such constants by value until finding
container_by_value was fixed, and by source since; ``SEED = 11`` -> ``11.0`` behind
``RNG = random.Random(SEED)`` gives the same state). A step must re-run when its loose
signature is new, and may when its strict one is. Then, for every
step after a mutation:

- STALE: reused, but its output differs from the oracle's, or it had to re-run (or it ran,
  but on a stale upstream output, so its output differs too);
- MISSED: re-ran although its strict signature was seen before (nothing it depends on
  changed, or it changed back);
- WRONG: ran on correct inputs and still differs from the oracle (a nondeterministic
  generated pipeline: a bug of the fuzzer, never expected).

Steps are checked in pipeline order (topological), so a stale upstream is known when its
dependants are judged. Outputs are always compared; signatures only while they describe
what ran (not after a partial reload or a run without a reload, when code that is not on
disk has run).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from .model import Spec
from .mutations import Effect
from .project import RunResult

CODE_KINDS = {
    "component",
    "helper",
    "helper_other_module",
    "const_other_type",
    "upstream_identical_bytes",
}


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type, floats bit for bit, frames with dtypes and index."""
    if type(a) is not type(b):
        return False
    if isinstance(a, pd.DataFrame):
        return (
            a.columns.equals(b.columns)
            and a.dtypes.equals(b.dtypes)
            and type(a.index) is type(b.index)
            and a.index.equals(b.index)
            and a.equals(b)
        )
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


def expected_causes(kind: str) -> tuple[str, ...]:
    """Words the reason of a step that the mutation re-runs directly may contain."""
    if kind in CODE_KINDS or kind.startswith("const_"):
        return ("code changed",)
    if kind.startswith("parameter"):
        return ("parameter", "code changed")
    if kind.startswith("input"):
        return ("input",)
    return ()


@dataclass
class Counts:
    examples: int = 0
    steps: int = 0
    reused: int = 0
    stale: int = 0
    missed: int = 0
    wrong: int = 0
    why: int = 0  # a re-run step whose reason names another cause (reported, not asserted)


COLUMNS = ("examples", "steps", "reused", "STALE", "MISSED", "WRONG", "why?")


class Tally:
    """Counts per mutation kind, over a whole test."""

    def __init__(self, name: str):
        self.name = name
        self.counts: dict[str, Counts] = {}
        self.modes: dict[str, int] = {}
        self.why_samples: list[str] = []
        self.seconds: dict[str, float] = {}  # mode (and "oracle") -> seconds running
        self.projects = 0
        self.first_modes: dict[str, int] = {}  # how each project's first run ran

    def record(
        self,
        kind: str,
        spec: Spec,
        effect: Effect,
        inc: RunResult,
        orc: RunResult,
        before: dict[str, Any],
        signatures: tuple[dict[str, str], dict[str, str]] | None,
        seen: tuple[dict[str, set[str]], dict[str, set[str]]],
    ) -> list[str]:
        """Judge one incremental run; returns the problems (empty when all is well).

        Args:
            kind: the mutation kind.
            spec: the project.
            effect: what the mutation did.
            inc: the run in the project's workspace.
            orc: the run in a new workspace.
            before: the oracle's outputs in the run before.
            signatures: each step's strict and loose signatures now (None when they do not
                describe what ran).
            seen: each step's strict and loose signatures in earlier runs in the workspace
                (updated here).
        """
        c = self.counts.setdefault(kind, Counts())
        c.examples += 1
        self.modes[inc.mode] = self.modes.get(inc.mode, 0) + 1
        problems = []
        off: set[str] = set()  # steps whose output differs from the oracle's
        for s in spec.steps:
            got, truth = inc.steps[s.name], orc.steps[s.name].value
            changed_up = [u for u in s.upstream if not same(orc.steps[u].value, before[u])]
            strict = signatures[0][s.name] if signatures is not None else None
            loose = signatures[1][s.name] if signatures is not None else None
            must = loose not in seen[1].setdefault(s.name, set())  # something it sees changed
            may = strict not in seen[0].setdefault(s.name, set())  # or only a text it uses
            c.steps += 1
            c.reused += got.reused
            label = f"{s.name} ({'reused' if got.reused else 'ran'}: {got.reason})"
            if not same(got.value, truth):
                off.add(s.name)
                stale_up = sorted(off.intersection(s.upstream))
                if got.reused or stale_up:
                    c.stale += 1
                    fed = f" (fed by stale {stale_up})" if stale_up and not got.reused else ""
                    problems.append(f"STALE {label}{fed}: output {got.value!r}, oracle {truth!r}")
                else:
                    c.wrong += 1
                    problems.append(f"WRONG {label}: output {got.value!r}, oracle {truth!r}")
            elif signatures is None:
                continue
            elif got.reused and must:
                c.stale += 1
                why = "it was changed" if s.name in effect.direct else f"{changed_up} changed"
                problems.append(f"STALE {label}: reused although {why} (a new signature)")
            elif not got.reused and not may:
                c.missed += 1
                problems.append(f"MISSED {label}: its signature was seen before")
            elif not got.reused:
                self._check_reason(kind, label, got.reason, s.name in effect.direct, changed_up)
            if signatures is not None:
                seen[0][s.name].add(strict)
                seen[1][s.name].add(loose)
        return problems

    def _check_reason(
        self, kind: str, label: str, reason: str, direct: bool, changed_up: list[str]
    ) -> None:
        causes = expected_causes(kind) if direct else ()
        causes += ("upstream output changed",) if changed_up else ()
        if causes and not any(word in reason for word in causes):
            self.counts[kind].why += 1
            if len(self.why_samples) < 5:
                self.why_samples.append(f"{kind}: {label}, expected one of {causes}")

    def timed(self, mode: str, incremental: float, oracle: float) -> None:
        self.seconds[mode] = self.seconds.get(mode, 0.0) + incremental
        self.seconds["oracle"] = self.seconds.get("oracle", 0.0) + oracle

    def totals(self) -> Counts:
        total = Counts()
        for c in self.counts.values():
            for f in fields(total):
                setattr(total, f.name, getattr(total, f.name) + getattr(c, f.name))
        return total

    def table(self) -> str:
        def row(name: str, c: Counts) -> str:
            values = (getattr(c, f.name) for f in fields(c))
            return f"{name:<24}" + "".join(
                f" {v:>{len(h)}}" for v, h in zip(values, COLUMNS, strict=True)
            )

        head = f"{'kind':<24}" + "".join(
            f" {h:>8}" if h == "examples" else f" {h}" for h in COLUMNS
        )
        rule = "-" * len(head)
        lines = [f"reuse fuzzer: {self.name}", head, rule]
        lines += [row(kind, c) for kind, c in sorted(self.counts.items())]
        lines += [rule, row("total", self.totals())]
        modes = ", ".join(
            f"{m}={n} ({self.seconds.get(m, 0):.1f}s)" for m, n in sorted(self.modes.items())
        )
        lines.append(
            f"incremental runs by mode: {modes}; oracle runs {self.seconds.get('oracle', 0):.1f}s;"
            f" projects {self.projects}"
        )
        firsts = ", ".join(f"{m}={n}" for m, n in sorted(self.first_modes.items()))
        lines.append(f"first runs by mode: {firsts}")
        lines += [f"  why? {sample}" for sample in self.why_samples]
        return "\n".join(lines)
