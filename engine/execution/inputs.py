"""A step's inputs: checked before a run, then fingerprinted into its cache key's ingredients."""

from __future__ import annotations

import os
import stat
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError
from ..fingerprint.digest import domain_hasher, update_str
from ..fingerprint.files import folder_tree
from ..fingerprint.keys import code_fingerprint, fingerprint_input, fingerprint_value
from ..types import PARAMETER, PATH, PATHS
from .reuse import Ingredients

if TYPE_CHECKING:
    from ..definitions.model import PipelineDefinition, Step
    from ..store.artifacts import ArtifactRecord
    from ..store.statcache import StatCache


def ingredients(
    step: Step,
    values: dict[str, Any],
    upstream: dict[str, dict[str, ArtifactRecord]],
    stat_cache: StatCache | None,
    storage_options: dict[str, Any] | None = None,
    code_fps: dict[int, str] | None = None,
    ahead: bool = False,
) -> Ingredients:
    """Fingerprint every ingredient of ``step``'s cache key (DESIGN §4).

    Args:
        step: the step.
        values: the run's bound parameter values.
        upstream: finished steps' outputs.
        stat_cache: the workspace stat cache for file inputs.
        storage_options: fsspec options for URL inputs.
        code_fps: a per-run memo of code fingerprints by component id (code cannot change
            during a run).
        ahead: leave out inputs fed by steps missing from ``upstream`` (still running); the
            step is being sent ahead and its key is completed where it runs (``eager.py``).
    """
    comp = step.component
    params, shown, inputs, ups, bad = {}, {}, {}, {}, []
    for port in comp.inputs:
        b = step.bindings[port.name]
        if b.source == "output":
            if not (ahead and b.step not in upstream):
                ups[port.name] = upstream[b.step][b.name].fingerprint
            continue
        value = values[b.name] if b.source == "parameter" else b.value
        if port.kind == PARAMETER:
            params[port.name] = fingerprint_value(value)
            shown[port.name] = _short(value)
            continue
        why = "it cannot be pickled"
        try:
            fp = fingerprint_input(value, port.annotation, stat_cache, storage_options)
        except (OSError, TypeError, ValueError) as exc:
            fp, why = None, str(exc)
        if fp is None:
            warnings.warn(
                f"step {step.name!r}: input {port.name!r} cannot be fingerprinted ({why}); "
                "the step will run and will not be reused",
                stacklevel=2,
            )
            bad.append(port.name)
        else:
            inputs[port.name] = fp
    memo = code_fps if code_fps is not None else {}
    code = memo.get(id(comp))
    if code is None:
        code = memo[id(comp)] = code_fingerprint(comp.fn, comp.version)
    return Ingredients(code, params, shown, inputs, ups, tuple(bad))


def input_marks(step: Step, values: dict[str, Any]) -> dict[str, str]:
    """The stat identity of each local ``Path``/``list[Path]`` input of ``step`` (size, mtime,
    ctime, inode of every file, by relative name): taken before the inputs are fingerprinted
    and again once the step has run, it tells whether an input changed in between."""
    marks = {}
    for port in step.component.inputs:
        b = step.bindings[port.name]
        if port.kind not in (PATH, PATHS) or b.source == "output":
            continue
        value = values[b.name] if b.source == "parameter" else b.value
        items = value if port.kind == PATHS else [value]
        hasher = domain_hasher(b"headrace.marks")
        for item in items or []:
            if item is not None and "://" not in str(item):
                _mark(hasher, os.fspath(item))
        marks[port.name] = hasher.hexdigest()
    return marks


def changed_inputs(step: Step, values: dict[str, Any], before: dict[str, str]) -> list[str]:
    """The inputs whose :func:`input_marks` differ from ``before``."""
    now = input_marks(step, values)
    return [port for port, mark in before.items() if now.get(port) != mark]


def _mark(hasher: Any, path: str) -> None:
    update_str(hasher, os.fsencode(path))
    try:
        st = os.stat(path)
    except OSError as exc:
        update_str(hasher, f"error {exc.errno}")
        return
    update_str(hasher, repr((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)))
    if stat.S_ISDIR(st.st_mode):  # walked as its fingerprint walks it: links followed
        try:
            tree = folder_tree(path)
        except (OSError, ValueError) as exc:
            update_str(hasher, f"error {exc}")
            return
        for name in sorted(tree.dirs):
            update_str(hasher, f"dir {name}")
        for name in sorted(tree.files):
            f = tree.files[name][1]
            update_str(hasher, repr((name, f.st_size, f.st_mtime_ns, f.st_ctime_ns, f.st_ino)))


def _short(value: Any) -> str:
    text = repr(value.value if hasattr(value, "value") and not isinstance(value, str) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_paths(defn: PipelineDefinition, values: dict[str, Any]) -> None:
    """Refuse, before a run starts, local path inputs that are missing or are not files/folders.

    Every ``Path``/``list[Path]`` input bound to a parameter or a constant is checked; outputs
    of upstream steps are the store's business. URLs (``s3://...``) are left to the step.

    Raises:
        ParameterError: one line per bad path, naming the step, the input and the fix.
    """
    problems = []
    for step in defn.steps.values():
        for port in step.component.inputs:
            if port.kind not in (PATH, PATHS):
                continue
            b = step.bindings[port.name]
            if b.source == "output":
                continue
            value = values[b.name] if b.source == "parameter" else b.value
            where = f"step {step.name!r}, input {port.name!r}" + (
                f" (parameter {b.name!r})" if b.source == "parameter" else ""
            )
            items = value if port.kind == PATHS else [value]
            problems += [f"{where}: {why}" for why in map(_path_problem, items or []) if why]
    if problems:
        raise ParameterError("\n".join(dict.fromkeys(problems)))


def _path_problem(value: Any) -> str | None:
    if value is None or "://" in str(value):
        return None
    text = os.fspath(value)
    try:
        st = os.stat(text)
    except FileNotFoundError:
        return f"{text!r} does not exist; create it or pass another path"
    except OSError as exc:
        return f"{text!r} cannot be read ({exc.strerror or exc}); fix its permissions"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return (
            f"{text!r} is not a regular file or folder (a FIFO, socket or device); "
            "pass a file or a folder"
        )
    return None
