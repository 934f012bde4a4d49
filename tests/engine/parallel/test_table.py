"""Table inputs: iris scored by module and class entries, Parquet and CSV sources, appended rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from headrace.engine import Workspace, parallel_run, pipeline
from tests.engine.parallel.pipelines import ENTRIES, IrisScorer, iris_by_class, iris_by_module


def test_iris_predictions_equal_predict_on_the_whole_table_in_order(ws: Workspace) -> None:
    run = iris_by_module.submit(params={"batch_size": 16}, workspace=ws).raise_for_status()
    results = run.outputs["results"].load()
    model = run.outputs["model"].load()
    from sklearn.datasets import load_iris

    x = load_iris(as_frame=True).data
    assert list(results.columns) == ["row", "prediction"]
    assert results["row"].tolist() == list(range(150))
    assert results["prediction"].tolist() == model.predict(x).tolist()
    step = run.steps["score"]
    assert step.metrics["items"] == 150 and step.metrics["mini_batches"] == 10
    assert step.metrics["items_failed"] == 0 and step.metrics["items_per_s"] > 0
    assert [b["items"] for b in step.batches] == [16] * 9 + [6]
    assert {b["status"] for b in step.batches} == {"Completed"}
    # the same inputs again: the step is reused, and its report is the one it reused
    again = iris_by_module.submit(params={"batch_size": 16}, workspace=ws).raise_for_status()
    assert again.steps["score"].reused and len(again.steps["score"].batches) == 10
    # another mini_batch_size (a PipelineParameter): other mini-batches, the same predictions
    other = iris_by_module.submit(params={"batch_size": 50}, workspace=ws).raise_for_status()
    assert other.steps["score"].metrics["mini_batches"] == 3
    assert other.outputs["results"].load().equals(results)


def test_class_entry_names_rows_by_the_mini_batch_index(ws: Workspace) -> None:
    run = iris_by_class.submit(workspace=ws).raise_for_status()
    results = run.outputs["results"].load()
    model = run.outputs["model"].load()
    from sklearn.datasets import load_iris

    assert results["prediction"].tolist() == model.predict(load_iris(as_frame=True).data).tolist()
    assert run.steps["score"].metrics["mini_batches"] == 6


score_parquet = parallel_run(
    entry=IrisScorer, name="score", input_format="parquet", max_concurrency=2
)


def _table(n: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])


class Doubler:
    """Class entry for numeric tables: one output column per row, keyed by ``row``."""

    def __init__(self, counter: str):
        self.counter = Path(counter)
        self.counter.mkdir(exist_ok=True)

    def __call__(self, mini_batch: pd.DataFrame) -> pd.DataFrame:
        start = int(mini_batch.index[0])
        (self.counter / f"{start}-{len(mini_batch)}.call").touch()
        return pd.DataFrame({"row": mini_batch.index, "double": mini_batch["a"] * 2})


doubler_parquet = parallel_run(
    entry=Doubler, name="double", input_format="parquet", max_concurrency=2
)
doubler_csv = parallel_run(entry=Doubler, name="double", input_format="csv", max_concurrency=2)


@pipeline(name="double-parquet")
def double_parquet(table: Path, counter: str, batch_size: int = 100):
    return {
        "results": doubler_parquet(
            data=table, counter=counter, mini_batch_size=batch_size
        ).outputs.results
    }


@pipeline(name="double-csv")
def double_csv(table: Path, counter: str, batch_size: int = 100):
    return {
        "results": doubler_csv(
            data=table, counter=counter, mini_batch_size=batch_size
        ).outputs.results
    }


def _calls(counter: Path) -> list[str]:
    return sorted(p.stem for p in counter.glob("*.call"))


def test_parquet_folder_rows_in_order_and_appended_rows_score_only_the_tail(
    ws: Workspace, tmp_path: Path
) -> None:
    folder, counter = tmp_path / "table", tmp_path / "counter"
    folder.mkdir()
    table = _table(1000)
    table.iloc[:600].to_parquet(folder / "part-0.parquet", row_group_size=250)
    table.iloc[600:].to_parquet(folder / "part-1.parquet", row_group_size=250)
    params = {"table": str(folder), "counter": str(counter), "batch_size": 300}
    run = double_parquet.submit(params=params, workspace=ws).raise_for_status()
    out = run.outputs["results"].load()
    assert out["row"].tolist() == list(range(1000))
    assert out["double"].tolist() == (table["a"] * 2).tolist()
    assert len(_calls(counter)) == 4  # 300 + 300 + 300 + 100
    # rows appended in a new file: the full mini-batches keep their keys; the tail is scored
    extra = _table(1250).iloc[1000:]
    extra.to_parquet(folder / "part-2.parquet")
    for p in counter.glob("*"):
        p.unlink()
    run = double_parquet.submit(params=params, workspace=ws).raise_for_status()
    out = run.outputs["results"].load()
    whole = pd.concat([table, extra])
    assert out["row"].tolist() == list(range(1250))
    assert out["double"].tolist() == (whole["a"] * 2).tolist()
    assert _calls(counter) == ["1200-50", "900-300"]
    assert run.steps["double"].metrics["mini_batches_reused"] == 3


def test_rows_appended_to_the_same_parquet_file_score_only_the_tail(
    ws: Workspace, tmp_path: Path
) -> None:
    """pandas writes the file's range index (its stop) into the Parquet schema: rewriting
    the file with rows appended must not give the unchanged rows new keys."""
    counter, path = tmp_path / "counter", tmp_path / "t.parquet"
    table = _table(700)
    table.iloc[:600].to_parquet(path)
    params = {"table": str(path), "counter": str(counter), "batch_size": 300}
    double_parquet.submit(params=params, workspace=ws).raise_for_status()
    assert len(_calls(counter)) == 2
    for p in counter.glob("*"):
        p.unlink()
    table.to_parquet(path)  # the same 600 rows, then 100 more, in one file
    run = double_parquet.submit(params=params, workspace=ws).raise_for_status()
    assert _calls(counter) == ["600-100"]
    out = run.outputs["results"].load()
    assert out["row"].tolist() == list(range(700))
    assert out["double"].tolist() == (table["a"] * 2).tolist()


def test_csv_file_rows(ws: Workspace, tmp_path: Path) -> None:
    table = _table(230)
    table.to_csv(tmp_path / "t.csv", index=False)
    params = {"table": str(tmp_path / "t.csv"), "counter": str(tmp_path / "c"), "batch_size": 100}
    run = double_csv.submit(params=params, workspace=ws).raise_for_status()
    out = run.outputs["results"].load()
    assert out["row"].tolist() == list(range(230))
    assert out["double"].round(9).tolist() == (table["a"] * 2).round(9).tolist()


def test_regenerate_outputs_scores_everything_again(ws: Workspace, tmp_path: Path) -> None:
    folder, counter = tmp_path / "table", tmp_path / "counter"
    folder.mkdir()
    _table(300).to_parquet(folder / "p.parquet")
    params = {"table": str(folder), "counter": str(counter), "batch_size": 100}
    double_parquet.submit(params=params, workspace=ws).raise_for_status()
    assert len(_calls(counter)) == 3
    run = double_parquet.submit(params=params, workspace=ws, regenerate_outputs=True)
    assert run.raise_for_status().steps["double"].metrics["mini_batches_reused"] == 0
    assert len(list(counter.glob("*.call"))) == 3  # the same names again: overwritten markers
    assert not run.steps["double"].reused


def test_entry_file_path_resolves_next_to_the_defining_file() -> None:
    step = parallel_run(entry="entries/iris_score.py", name="s")
    assert step.spec.entry.path == str((ENTRIES / "iris_score.py").resolve())


def test_a_table_file_whose_name_is_not_utf8_gets_one_clear_error(
    ws: Workspace, tmp_path: Path
) -> None:
    """pyarrow opens files by UTF-8 path only: the step says which file and what to do."""
    import os

    folder, counter = tmp_path / "table", tmp_path / "counter"
    folder.mkdir()
    _table(10).to_parquet(folder / "part-0.parquet")
    _table(10).to_parquet(folder / "tmp.parquet")
    os.rename(folder / "tmp.parquet", os.path.join(os.fsencode(folder), b"part-\xe9.parquet"))
    params = {"table": str(folder), "counter": str(counter)}
    run = double_parquet.submit(params=params, workspace=ws)
    assert run.status == "Failed"
    error = run.steps["double"].error or ""
    assert error.startswith("ParameterError: data=: the table file"), error
    assert "part-\\xe9.parquet'" in error and "'part-é.parquet'" in error
    assert "glob=" in error
