"""How the entry is loaded: in the submitting process (to fingerprint it) as in the workers,
with arguments= and environment_variables= set, its exits explained, and a class entry left
as the user defined it; and what the results of a filtered table mini-batch are keyed to."""

from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import DefinitionError, Workspace, component, parallel_run, pipeline
from headrace.engine.errors import ParallelRunError
from tests.engine.parallel.pipelines import ENTRIES, write_files

SETTINGS = {"arguments": ["--scale", "2"], "environment_variables": {"MODEL_DIR": "/models"}}


def _scored(step, ws: Workspace, folder: Path) -> pd.DataFrame:
    @pipeline(name="import-time")
    def pipe(folder: Path):
        return {"results": step(data=folder).outputs.results}

    run = pipe.submit(params={"folder": str(folder)}, workspace=ws).raise_for_status()
    return run.outputs["results"].load()


def test_a_file_entry_reading_argv_and_environment_at_import(ws: Workspace, tmp_path: Path) -> None:
    assert "MODEL_DIR" not in os.environ
    write_files(tmp_path / "in", ["a", "b"])
    argv = list(sys.argv)
    step = parallel_run(entry=ENTRIES / "import_time.py", name="s", max_concurrency=1, **SETTINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = _scored(step, ws, tmp_path / "in")
    assert not [w for w in caught if "computed at import" in str(w.message)]  # MODEL_DIR is keyed
    assert results["scale"].tolist() == [2.0, 2.0]
    assert set(results["model_dir"]) == {"/models"}
    assert "MODEL_DIR" not in os.environ and sys.argv == argv  # restored in this process


def test_a_dotted_module_entry_reading_argv_and_environment_at_import(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ENTRIES / "import_time.py", tmp_path / "import_time_mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    write_files(tmp_path / "in", ["a"])
    step = parallel_run(entry="import_time_mod", name="s", max_concurrency=1, **SETTINGS)
    assert set(_scored(step, ws, tmp_path / "in")["model_dir"]) == {"/models"}
    assert "MODEL_DIR" not in os.environ


def test_an_entry_failing_at_import_is_named_with_what_it_raised(
    ws: Workspace, tmp_path: Path
) -> None:
    write_files(tmp_path / "in", ["a"])
    step = parallel_run(entry=ENTRIES / "import_time.py", name="s", arguments=["--scale", "2"])
    with pytest.raises(
        ParallelRunError,
        match=r"parallel_run step 's', entry .*import_time.py: importing it raised KeyError: "
        r"'MODEL_DIR'.*give what it reads at import in arguments= or environment_variables=",
    ):
        _scored(step, ws, tmp_path / "in")


def test_a_dotted_module_failing_at_import_is_a_definition_error(tmp_path: Path) -> None:
    (tmp_path / "exits_at_import.py").write_text(
        "import sys\nprint('no model here', file=sys.stderr)\nsys.exit(3)\ndef run(mb): return mb\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(
            DefinitionError,
            match=r"argument entry='exits_at_import': importing it raised RuntimeError: the "
            r"entry exited \(SystemExit: 3\); it wrote to stderr: no model here",
        ):
            parallel_run(entry="exits_at_import")
    finally:
        sys.path.remove(str(tmp_path))


def test_argparse_refusing_arguments_says_what_argparse_said(ws: Workspace, tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a"])
    step = parallel_run(
        entry=ENTRIES / "azure_args.py", name="s", arguments=["--scael", "3"], max_concurrency=1
    )

    @pipeline(name="argparse")
    def pipe(folder: Path):
        return {"results": step(data=folder).outputs.results}

    run = pipe.submit(params={"folder": str(tmp_path / "in")}, workspace=ws)
    assert run.status == "Failed"
    assert re.search(
        r"init\(\) of the entry .*azure_args.py raised RuntimeError: the entry exited "
        r"\(SystemExit: 2\); it wrote to stderr: usage: azure_args.py.*error: the following "
        r"arguments are required: --scale",
        run.steps["s"].error or "",
        re.S,
    )


THRESHOLD = 1


def test_a_class_entry_pickled_by_value_is_left_as_the_user_defined_it(
    ws: Workspace, tmp_path: Path
) -> None:
    class Scorer:  # defined in a function: pickled by value for the workers
        def __call__(self, mini_batch: list[Path]) -> list[int]:
            return [int(len(p.name) > THRESHOLD) for p in mini_batch]

    call = Scorer.__call__
    write_files(tmp_path / "in", ["ab"])
    step = parallel_run(entry=Scorer, name="s", max_concurrency=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _scored(step, ws, tmp_path / "in")
    assert not [w for w in caught if "unavailable" in str(w.message)]
    assert Scorer.__call__ is call
    assert Scorer.__call__.__globals__ is globals()


def test_a_parquet_folder_with_spark_markers_needs_input_format(tmp_path: Path) -> None:
    folder = tmp_path / "table"
    folder.mkdir()
    for i in range(2):
        pd.DataFrame({"x": [i]}).to_parquet(folder / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.parquet.crc").write_text("")
    step = parallel_run(entry=ENTRIES / "short.py", name="s")

    @pipeline(name="markers")
    def pipe():
        return {"results": step(data=folder).outputs.results}

    with pytest.raises(
        DefinitionError, match=r"it holds parquet files but input_format is not given"
    ):
        pipe.validate()


@component
def numbers(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": [-1 if i % 4 == 0 else i for i in range(n)]})


class DropsNegative:
    """Scores only the rows it can, returning the filtered mini-batch (its index kept)."""

    def __call__(self, mini_batch: pd.DataFrame) -> pd.DataFrame:
        ok = mini_batch[mini_batch["x"] >= 0]
        return ok.assign(pred=ok["x"] * 10)


class OwnIds:
    """Returns a result for every row, indexed by ids of its own (not row numbers)."""

    def __call__(self, mini_batch: pd.DataFrame) -> pd.DataFrame:
        ids = [3, 1, 4, 0, 5, 2][: len(mini_batch)]
        return pd.DataFrame({"pred": mini_batch["x"].to_numpy() * 10}, index=ids)


def test_results_indexed_by_ids_of_the_entrys_own_count_by_position(ws: Workspace) -> None:
    step = parallel_run(entry=OwnIds, name="s", mini_batch_size=6, max_concurrency=1)

    @pipeline(name="own-ids")
    def pipe(n: int = 6):
        return {"results": step(data=numbers(n=n)).outputs.results}

    results = pipe.submit(workspace=ws).raise_for_status().outputs["results"].load()
    assert results["row"].tolist() == list(range(6))
    assert results["pred"].tolist() == [-10, 10, 20, 30, -10, 50]


def test_a_filtered_table_mini_batch_is_keyed_by_its_index(ws: Workspace) -> None:
    step = parallel_run(entry=DropsNegative, name="s", mini_batch_size=8, max_concurrency=1)

    @pipeline(name="filtered")
    def pipe(n: int = 20):
        return {"results": step(data=numbers(n=n)).outputs.results}

    run = pipe.submit(workspace=ws).raise_for_status()
    results = run.outputs["results"].load()
    kept = [i for i in range(20) if i % 4]
    assert results["row"].tolist() == kept
    assert results["pred"].tolist() == [10 * i for i in kept]
    assert run.steps["s"].metrics["items_failed"] == 5


@pytest.fixture
def no_utils() -> Iterator[None]:
    """No `utils` module imported in this process before or after (as in a fresh process)."""
    sys.modules.pop("utils", None)
    yield
    sys.modules.pop("utils", None)


def _model_folder(root: Path, name: str) -> Path:
    folder = root / "models" / name
    folder.mkdir(parents=True)
    (folder / "score.py").write_text(
        "import utils\n\ndef run(mini_batch):\n    return [utils.tag(p.name) for p in mini_batch]\n"
    )
    (folder / "utils.py").write_text(f"def tag(x):\n    return {name!r} + ':' + x\n")
    return folder


def test_entries_beside_same_named_helpers_are_refused(
    ws: Workspace, tmp_path: Path, no_utils: None
) -> None:
    """Python keeps one `utils` per process: the second entry would run the first's."""
    write_files(tmp_path / "in", ["f"])
    sa = parallel_run(entry=_model_folder(tmp_path, "a") / "score.py", name="sa")
    sb = parallel_run(entry=_model_folder(tmp_path, "b") / "score.py", name="sb")

    @pipeline(name="two-models")
    def pipe(folder: Path):
        return {"a": sa(data=folder).outputs.results, "b": sb(data=folder).outputs.results}

    with pytest.raises(
        ParallelRunError,
        match=r"parallel_run step 's[ab]': the entry .*models/[ab]/score.py imports 'utils', and "
        r"a utils.py is beside it, but this process imported another 'utils' first "
        r"\(.*models/[ab]/utils.py\).*Rename the helper",
    ):
        pipe.submit(params={"folder": str(tmp_path / "in")}, workspace=ws)


def test_an_entry_beside_its_helper_scores_with_it(
    ws: Workspace, tmp_path: Path, no_utils: None
) -> None:
    write_files(tmp_path / "in", ["f"])
    step = parallel_run(entry=_model_folder(tmp_path, "c") / "score.py", name="sc")
    assert _scored(step, ws, tmp_path / "in")["result"].tolist() == ["c:f"]


def test_the_pipelines_own_helper_reached_through_a_symlink_is_the_entrys(
    ws: Workspace, tmp_path: Path, no_utils: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = _model_folder(tmp_path, "d")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    monkeypatch.syspath_prepend(str(link))
    importlib.import_module("utils")  # the pipeline beside it imported it first, via the link
    write_files(tmp_path / "in", ["f"])
    step = parallel_run(entry=link / "score.py", name="sd")
    assert _scored(step, ws, tmp_path / "in")["result"].tolist() == ["d:f"]
