"""A generated project on disk, and its runs: in this process (three ways to load edited code)
or in a fresh ``headrace run`` process, in its own workspace or in a brand-new one (the oracle).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from headrace.engine import PipelineRun, Workspace
from headrace.engine.definitions.loader import load_pipeline, pipelines_in

from .model import MODULES, Spec

# How a run loads the code. ``fresh``: forget the user modules and import them again (a new
# module object each). ``reload``: importlib.reload every user module, in import order (a
# notebook's "reload everything"). ``partial``: reload only the modules edited since the last
# load (a notebook's ``importlib.reload(helpers)``). ``noreload``: run the modules loaded
# before the edit (a notebook kernel whose files were edited). ``cli``: a new ``headrace run``
# process. (``same``, for the runtime_state kind only: the loaded modules as the last run
# left them, with nothing edited.)
MODES = ("fresh", "reload", "partial", "noreload", "cli")

OLD = 1_600_000_000  # input files are written long ago, so the stat cache trusts its entries


@dataclass
class StepResult:
    """What one step of a run did and produced."""

    reused: bool
    reason: str
    value: Any


@dataclass
class RunResult:
    mode: str
    run_id: str
    steps: dict[str, StepResult]
    warnings: list[str]


def canonical(value: Any) -> str:
    """A value as text that differs whenever its bytes (or its state) would."""
    name = type(value).__name__
    if isinstance(value, pd.DataFrame):
        cols = {c: [canonical(x) for x in value[c].tolist()] for c in value.columns}
        return f"frame {value.dtypes.to_dict()} {type(value.index).__name__} {list(value.index)} {cols}"
    if isinstance(value, float):
        return f"float {value.hex()}"
    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} {value.shape} {value.tobytes().hex()}"
    if isinstance(value, random.Random):
        return f"{name} {value.getstate()!r}"
    if isinstance(value, np.random.Generator):
        return f"{name} {value.bit_generator.state!r}"
    if isinstance(value, tuple | list):
        return f"{name} ({', '.join(canonical(v) for v in value)})"
    if isinstance(value, set | frozenset):
        return f"{name} {{{', '.join(sorted(canonical(v) for v in value))}}}"
    return f"{name} {value!r}"


class Project:
    """The files of a :class:`Spec`, its inputs, its parameter values and its workspace.

    Args:
        root: an empty folder for this project.
        spec: the project.
        data: input parameter name -> bytes of the file (or of each file of the folder).
    """

    def __init__(self, root: Path, spec: Spec, data: dict[str, list[bytes]]):
        self.root = root
        self.spec = spec
        self.src = root / "src"
        self.src.mkdir(parents=True)
        self.clock = time.time()
        self.written: dict[str, str] = {}
        self.dirty: set[str] = set()
        self.flows_module: str | None = None
        self.pipe: Any = None
        self.inputs: dict[str, Path] = {}
        for name, kind in spec.inputs.items():
            self.inputs[name] = self._write_input(name, kind, data[name])
        # pipeline parameter -> (value passed in this process, text passed on the CLI)
        self.values: dict[str, tuple[Any, str]] = {}
        self.ws_dir = root / "ws"
        self.ws = Workspace(self.ws_dir)
        self.oracles = 0
        self.cli_runs = 0
        self.write_sources()

    # --- files -----------------------------------------------------------------------

    def path_of(self, module: str) -> Path:
        return self.src / (
            "flows.py" if module == "flows" else f"{self.spec.module_name(module)}.py"
        )

    def bump(self, path: Path) -> None:
        """Give ``path`` a new mtime, seconds after the last one (edits are not instantaneous)."""
        self.clock += 2.5
        os.utime(path, (self.clock, self.clock))

    def write_sources(self) -> list[str]:
        """Write every module whose rendered text changed; returns the changed modules."""
        changed = []
        for module, text in self.spec.sources().items():
            if self.written.get(module) == text:
                continue
            path = self.path_of(module)
            path.write_text(text)
            self.bump(path)
            self.written[module] = text
            self.dirty.add(module)
            changed.append(module)
        return changed

    def _write_input(self, name: str, kind: str, blobs: list[bytes]) -> Path:
        base = self.root / "data" / name
        base.parent.mkdir(parents=True, exist_ok=True)
        if kind == "file":
            base.write_bytes(blobs[0])
            os.utime(base, (OLD, OLD))
            return base
        for i, blob in enumerate(blobs):
            f = base / ("sub" if i % 2 else "") / f"part{i}.bin"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(blob)
            os.utime(f, (OLD, OLD))
        return base

    def input_files(self, name: str) -> list[Path]:
        path = self.inputs[name]
        return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())

    def param_value(self, step: str) -> int | float:
        """The value of a step's parameter ``p`` as the step sees it (coerced)."""
        param = self.spec.step(step).param
        assert param is not None
        if param.binding == "pipeline" and f"q_{step}" in self.values:
            value = self.values[f"q_{step}"][0]
        elif param.binding == "literal":
            value = ast.literal_eval(param.literal)
        elif param.default_text:
            value = ast.literal_eval(param.default_text)
        else:
            value = param.default
        return int(float(value)) if param.annotation == "int" else float(value)

    def signatures(self, upstream: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        """Step -> a digest of everything its cache key must cover (the fuzzer's own key).

        Its code as rendered (without comments) with every constant and helper it reaches,
        its parameter's value and type, its input's bytes, and the true upstream outputs.
        Two of them: *strict*, every constant by its source text, and *loose*, a constant
        reached only by value (``h.NAME``, an import in a body) by its value as loaded. A
        step must re-run when its loose signature is new and may when its strict one is.

        Args:
            upstream: the true outputs of the steps now (the oracle's).
        """
        if self.flows_module is None or self.flows_module not in sys.modules:
            self.load("fresh")  # only CLI runs so far: load the code on disk here too
        strict, loose = {}, {}
        for s in self.spec.steps:
            rest = hashlib.sha256()
            if s.param is not None:
                rest.update(repr(self.param_value(s.name)).encode())
            if s.path_in:
                root = self.inputs[s.path_in]
                for f in self.input_files(s.path_in):
                    rest.update(f"{f.relative_to(root) if f != root else ''}".encode())
                    rest.update(hashlib.sha256(f.read_bytes()).digest())
            for u in s.upstream:
                rest.update(canonical(upstream[u]).encode())
            for out, code in (
                (strict, self.spec.code_text(s)),
                (loose, self.spec.code_text(s, self._loaded_value)),
            ):
                out[s.name] = hashlib.sha256(code.encode() + rest.digest()).hexdigest()
        return strict, loose

    def _loaded_value(self, const: Any) -> str:
        """A constant as the modules loaded in this process hold it, canonically."""
        return canonical(getattr(sys.modules[self.spec.module_name(const.module)], const.name))

    def params(self, cli: bool) -> dict[str, Any]:
        out: dict[str, Any] = {k: str(v) if cli else v for k, v in self.inputs.items()}
        out.update({k: (text if cli else value) for k, (value, text) in self.values.items()})
        return out

    # --- loading code in this process -------------------------------------------------

    def _user_modules(self) -> list[str]:
        names = [self.spec.module_name(m) for m in MODULES if m != "flows"]
        return names + ([self.flows_module] if self.flows_module else [])

    def forget(self) -> None:
        """Drop this project's modules from this process."""
        for name in self._user_modules():
            sys.modules.pop(name, None)
        if str(self.src) in sys.path:
            sys.path.remove(str(self.src))

    def load(self, mode: str) -> Any:
        """The pipeline, loaded in this process the way ``mode`` says."""
        if self.flows_module is None or self.flows_module not in sys.modules:
            mode = "fresh"
        elif mode in ("same", "noreload"):
            return self.pipe
        importlib.invalidate_caches()
        if mode == "fresh":
            self.forget()
            pipe = load_pipeline(str(self.path_of("flows")))
            self.flows_module = pipe.fn.__module__
        else:
            for m in MODULES[:-1]:
                if mode == "reload" or m in self.dirty:
                    self._reload(self.spec.module_name(m))
            module = sys.modules[self.flows_module]
            if mode == "reload" or "flows" in self.dirty:
                # What importlib.reload does (a new spec, the same module object); it cannot
                # find a module imported by path itself.
                spec = importlib.util.spec_from_file_location(module.__name__, module.__file__)
                assert spec is not None and spec.loader is not None
                module.__spec__, module.__loader__ = spec, spec.loader
                spec.loader.exec_module(module)
            pipe = next(iter(pipelines_in(module).values()))
        self.dirty.clear()
        self.pipe = pipe
        return pipe

    def _reload(self, name: str) -> None:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        else:
            importlib.reload(module)

    # --- runs ------------------------------------------------------------------------

    def run(self, mode: str) -> RunResult:
        """Run the pipeline in the project's workspace."""
        if mode == "cli":
            return self._run_cli(self.ws_dir, self.ws)
        return self._run_here(self.load(mode), self.ws, mode)

    def oracle(self, mode: str) -> RunResult:
        """Run the pipeline in a brand-new workspace (so every step computes).

        The code is what the incremental run ran: the modules loaded in this process for an
        in-process run, and the files on disk (a fresh import) for a CLI run.
        """
        self.oracles += 1
        folder = self.root / f"oracle{self.oracles}"
        ws = Workspace(folder)
        try:
            pipe = self.load("fresh") if mode == "cli" else self.pipe
            result = self._run_here(pipe, ws, "oracle")
        finally:
            ws.close()
            shutil.rmtree(folder, ignore_errors=True)
        for name, step in result.steps.items():
            assert not step.reused, f"the oracle reused {name}: {step.reason}"
        return result

    def _run_here(self, pipe: Any, ws: Workspace, mode: str) -> RunResult:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = pipe.submit(self.params(cli=False), workspace=ws, max_workers=2)
        return self._result(run, mode, [str(w.message) for w in caught])

    def _run_cli(self, folder: Path, ws: Workspace) -> RunResult:
        self.cli_runs += 1
        run_id = f"fz-{uuid.uuid4().hex[:12]}"
        cmd = [sys.executable, "-m", "headrace.engine.cli", "run", str(self.path_of("flows"))]
        for k, v in self.params(cli=True).items():
            cmd += ["--param", f"{k}={v}"]
        cmd += ["-w", str(folder), "-q", "--run-id", run_id]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "default"}
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env=env, cwd=self.root
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"headrace run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        warned = [line for line in proc.stderr.splitlines() if "headrace:" in line]
        return self._result(PipelineRun(ws, run_id), "cli", warned)

    def _result(self, run: PipelineRun, mode: str, warned: list[str]) -> RunResult:
        if run.status != "Completed":
            failed = {n: s.error for n, s in run.steps.items() if s.error}
            raise AssertionError(f"run {run.id} ended {run.status}: {failed}\n{run.error}")
        steps = {}
        for name, s in run.steps.items():
            (art,) = s.outputs.values()
            steps[name] = StepResult(s.reused, s.reason or "", art.load())
        return RunResult(mode, run.id, steps, warned)

    def close(self) -> None:
        self.ws.close()
        self.forget()
        shutil.rmtree(self.root, ignore_errors=True)
