"""One fuzz example: generate a project, run it, then mutate, re-run and compare, kind by kind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from .check import Tally
from .model import Spec
from .mutations import KINDS
from .project import MODES, Project
from .strategies import specs


def _in_process_mode(data: Any, spec: Spec) -> str:
    modes = [m for m in MODES if m != "cli"]
    if any(h.cached for h in spec.helpers.values()):
        # An lru cache that outlives a partial reload holds results of old code: runtime
        # state no key can see, so the generated pipeline itself would not be deterministic.
        modes.remove("partial")
    return data.draw(st.sampled_from(modes), label="mode")


def _blobs(data: Any, kind: str) -> list[bytes]:
    blob = st.binary(min_size=8, max_size=48)
    if kind == "file":
        return [data.draw(blob)]
    return data.draw(st.lists(blob, min_size=1, max_size=3))


def _report(project: Project, history: list[str], problems: list[str], warned: list[str]) -> str:
    sources = "\n".join(
        f"----- {project.path_of(m).name}\n{text}"
        for m, text in project.spec.sources().items()
        if m != "kit"
    )
    return (
        "\n  ".join(problems)
        + "\nafter:\n  "
        + "\n  ".join(history)
        + "".join(f"\nwarning: {w}" for w in dict.fromkeys(warned))
        + f"\nparams: {project.params(cli=False)}\n{sources}"
    )


def fuzz_example(
    data: Any, root: Path, tally: Tally, kinds: list[str], rounds: int, cli_runs: int
) -> None:
    """Build a project, run it, then apply every kind of ``kinds`` (``rounds`` times each) in
    a drawn order, running ``cli_runs`` of these runs in a fresh ``headrace run`` process and
    the others in this process.

    Raises:
        AssertionError: a STALE, MISSED or WRONG step (with the history and the sources).
    """
    spec = data.draw(specs(), label="spec")
    project = Project(root, spec, {n: _blobs(data, k) for n, k in spec.inputs.items()})
    try:
        for q, param in spec.pipeline_params():
            if data.draw(st.booleans()):
                project.values[q] = (param.default, repr(param.default))
        order = data.draw(st.permutations(kinds * rounds), label="kinds")
        by_cli = data.draw(
            st.sets(st.integers(0, len(order)), min_size=cli_runs, max_size=cli_runs), label="cli"
        )
        mode = "cli" if 0 in by_cli else _in_process_mode(data, spec)
        base = project.run(mode)
        tally.first_modes[mode] = tally.first_modes.get(mode, 0) + 1
        history = [f"first run ({mode})"]
        reused = [n for n, s in base.steps.items() if s.reused]
        assert not reused, f"a first run in a new workspace reused {reused}"
        before = {n: s.value for n, s in base.steps.items()}
        # Signatures describe the code on disk. After a partial reload or a run without a
        # reload (code that is not on disk has run and been cached) they no longer tell what
        # the cache holds: from then on only outputs are compared.
        model = mode not in ("partial", "noreload")
        seen: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
        if model:
            for sigs, known in zip(project.signatures(before), seen, strict=True):
                known.update({n: {sig} for n, sig in sigs.items()})
        for i, kind in enumerate(order, start=1):
            effect = KINDS[kind](project, data.draw)
            mode = effect.mode or ("cli" if i in by_cli else _in_process_mode(data, spec))
            history.append(f"{kind}: {effect.what} (run {mode})")
            started = time.perf_counter()
            inc = project.run(mode)
            middle = time.perf_counter()
            orc = project.oracle(mode)
            tally.timed(mode, middle - started, time.perf_counter() - middle)
            model = model and mode not in ("partial", "noreload")
            now = {n: s.value for n, s in orc.steps.items()}
            sigs = project.signatures(now) if model else None
            problems = tally.record(kind, spec, effect, inc, orc, before, sigs, seen)
            if problems:
                raise AssertionError(_report(project, history, problems, inc.warnings))
            before = now
    finally:
        project.close()
