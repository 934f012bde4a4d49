"""Loading a pipeline named as ``FILE.py[:PIPELINE]`` (CLI, schedules): clear errors, no tracebacks."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from ..errors import ExitAtImport, HeadraceError, PipelineLoadError, did_you_mean
from .pipeline import Pipeline

_SPEC_OBSERVERS: list[Callable[[ModuleSpec], None]] = []


def observe_file_specs(observer: Callable[[ModuleSpec], None]) -> None:
    """Have ``observer`` see the spec of every file :func:`import_file` loads, before the
    module is made from it (the engine's import watcher notes the file this way: a module
    loaded by path never reaches the import hooks)."""
    if observer not in _SPEC_OBSERVERS:
        _SPEC_OBSERVERS.append(observer)


def split_target(target: str) -> tuple[Path, str | None]:
    """Split ``FILE.py[:PIPELINE]`` into the path and the optional pipeline name."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or "/" in name or "\\" in name or Path(target).is_file():
        return Path(target), None  # a file whose name has a colon is that file
    return Path(path), name or None


def import_file(path: Path) -> ModuleType:
    """Import a Python file by path as a uniquely named module (its folder joins ``sys.path``).

    Raises:
        PipelineLoadError: the file is missing, not Python, or raises while importing.
    """
    path = path.expanduser().absolute()
    if path.is_dir():
        raise PipelineLoadError(
            f"{str(path)!r} is a folder, not a pipeline file; give the path of a .py file in "
            f"it that defines a @pipeline, e.g. `headrace run {path.name}/flows.py`"
        )
    if not path.is_file():
        raise PipelineLoadError(
            f"pipeline file {str(path)!r} does not exist; give the path of a .py file that "
            "defines a @pipeline, e.g. `headrace run examples/quickstart.py`"
        )
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    name = f"headrace_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path} is not a Python file; give a .py file")
    for observe in _SPEC_OBSERVERS:
        observe(spec)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        with _no_exit_at_import():
            spec.loader.exec_module(module)
    except ExitAtImport as exc:
        del sys.modules[name]
        raise PipelineLoadError(
            f"importing {path} called os._exit({exc.code}), which would end headrace with no "
            'run; move that call under `if __name__ == "__main__":` and try again'
        ) from None
    except HeadraceError:
        del sys.modules[name]
        raise
    except BaseException as exc:
        del sys.modules[name]
        raise PipelineLoadError(
            f"importing {path} raised {type(exc).__name__}: {exc}{_where(exc)}; fix the file "
            "and try again"
        ) from exc
    return module


def _where(exc: BaseException) -> str:
    """`` (at FILE:LINE)``, the user's line that raised (a syntax error names its own)."""
    if isinstance(exc, SyntaxError):
        return ""  # its message says "(file.py, line N)"
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")
    ]
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""


@contextlib.contextmanager
def _no_exit_at_import() -> Iterator[None]:
    """Turn ``os._exit`` during a pipeline file's import into an error (it skips every handler)."""
    real = os._exit

    def refuse(code: int) -> None:
        raise ExitAtImport(code)

    os._exit = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


def pipelines_in(module: ModuleType, own_only: bool = True) -> dict[str, Pipeline]:
    """The module's pipelines by attribute name, in definition order.

    Pipelines the file merely imports are left out when it defines any of its own.
    """
    found = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    own = {k: v for k, v in found.items() if v.fn.__module__ == module.__name__}
    return (own or found) if own_only else found


def load_pipeline(target: str) -> Pipeline:
    """Load the pipeline named by ``FILE.py[:PIPELINE]``.

    ``PIPELINE`` may be the attribute name or the pipeline's ``name=``; with one pipeline in
    the file it may be left out.

    Raises:
        PipelineLoadError: missing file, no pipeline, several pipelines and none named, or an
            unknown name (with did-you-mean).
    """
    path, name = split_target(target)
    module = import_file(path)
    found = pipelines_in(module)
    if not found:
        raise PipelineLoadError(
            f"{path} defines no @pipeline; decorate a function that wires components with "
            "@pipeline (from headrace.engine import pipeline)"
        )
    if name is None:
        if len(found) > 1:
            listed = ", ".join(f"{path}:{k}" for k in found)
            raise PipelineLoadError(
                f"{path} defines {len(found)} pipelines; name one, e.g. {listed}"
            )
        return next(iter(found.values()))
    found = pipelines_in(module, own_only=False)  # a name may pick an imported pipeline too
    if name in found:
        return found[name]
    by_name = {p.name: p for p in found.values()}
    if name in by_name:
        return by_name[name]
    choices = list(found) + [n for n in by_name if n not in found]
    raise PipelineLoadError(
        f"{path} has no pipeline {name!r}.{did_you_mean(name, choices)} "
        f"Pipelines in the file: {', '.join(choices)}"
    )
