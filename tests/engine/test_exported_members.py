"""The public API is pinned, and every exception the engine defines lives in errors.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import headrace.engine
from headrace.engine import errors

PUBLIC = [
    "Artifact",
    "ArtifactError",
    "Component",
    "DefinitionError",
    "HeadraceError",
    "ParameterError",
    "Pipeline",
    "PipelineParameter",
    "PipelineRun",
    "RunContext",
    "Status",
    "StepFailedError",
    "StepRun",
    "Workspace",
    "WorkspaceError",
    "component",
    "get_run_context",
    "parallel_run",
    "pipeline",
]


def test_all_is_pinned_and_importable() -> None:
    assert headrace.engine.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(headrace.engine, name) is not None


def test_errors_all_names_every_public_exception() -> None:
    """``headrace.engine.errors`` is where every exception is imported from (httpx's rule)."""
    public = sorted(
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, errors.HeadraceError)
        and obj.__module__ == errors.__name__
    )
    assert errors.__all__ == public
    assert {n for n in PUBLIC if n.endswith("Error")} <= set(errors.__all__)


def test_executors_keep_the_import_path_the_readme_shows() -> None:
    from headrace.engine.execution.executors import make_executor as real
    from headrace.engine.executors import make_executor

    assert make_executor is real


def _engine_modules() -> list[str]:
    names = ["headrace.engine"]
    for info in pkgutil.walk_packages(headrace.engine.__path__, "headrace.engine."):
        if info.name.endswith(".__main__"):
            continue  # running it is the CLI
        if ".prefect." in info.name or info.name.endswith((".dask", ".prefect")):
            continue  # these import prefect or distributed; checked below without importing
        names.append(info.name)
    return names


def test_every_engine_exception_is_defined_in_errors() -> None:
    stray = []
    for name in _engine_modules():
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and name != errors.__name__
            ):
                stray.append(f"{name}.{attr}")
    assert stray == []


def test_executor_modules_define_no_exceptions_of_their_own() -> None:
    import ast
    from pathlib import Path

    root = Path(headrace.engine.__file__).parent / "execution" / "executors"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                assert not any(b.endswith(("Error", "Exception")) for b in bases), (path, node.name)


def test_every_error_is_a_headrace_error() -> None:
    for obj in vars(errors).values():
        if (
            inspect.isclass(obj)
            and issubclass(obj, Exception)
            and obj.__module__ == errors.__name__
        ):
            assert issubclass(obj, errors.HeadraceError), obj
