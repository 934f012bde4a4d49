"""File inputs: digits PNGs scored with an upstream model, incremental folders, Azure scripts
with arguments, summary_only, and the CSV copy of the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from headrace.engine import Workspace, parallel_run, pipeline
from tests.engine.parallel.pipelines import ENTRIES, calls, digits_files, write_digits, write_files


def test_digits_pngs_scored_in_input_order_with_the_upstream_model(
    ws: Workspace, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    labels = write_digits(images, 60)
    run = digits_files.submit(params={"images": str(images), "batch_size": 7}, workspace=ws)
    results = run.raise_for_status().outputs["results"].load()
    names = sorted(p.name for p in images.iterdir())
    assert results["file"].tolist() == names
    model = run.outputs["model"].load()
    from sklearn.datasets import load_digits

    expected = model.predict(load_digits().data[:60])
    assert results["digit"].tolist() == expected.tolist()
    assert (results["digit"] == pd.Series(labels)).mean() > 0.9
    step = run.steps["digits"]
    assert step.metrics["mini_batches"] == 9 and step.metrics["items"] == 60
    assert len(step.batches) == 9 and {b["worker"] for b in step.batches} != {""}

    # 3 new files and one changed: only those are scored; the table still holds every item
    write_digits(images, 3, start=60)
    (images / "digit_00010.png").write_bytes((images / "digit_00011.png").read_bytes())
    again = digits_files.submit(params={"images": str(images), "batch_size": 7}, workspace=ws)
    step = again.raise_for_status().steps["digits"]
    fresh = [b for b in step.batches if not b["reused"]]
    assert sum(b["items"] for b in fresh) == 4  # digit_00010 and 00060..00062
    results = again.outputs["results"].load()
    assert results["file"].tolist() == sorted(p.name for p in images.iterdir())
    assert results.set_index("file").loc["digit_00010.png", "digit"] == expected[11]
    assert len(results) == 63 and not results["file"].duplicated().any()


behave = parallel_run(
    entry=ENTRIES / "behave.py", name="behave", mini_batch_size=3, max_concurrency=2
)


@pipeline(name="folder")
def folder_pipe(folder: Path, counter: str, batch_size: int = 3):
    return {
        "results": behave(data=folder, counter=counter, mini_batch_size=batch_size).outputs.results
    }


def test_new_files_anywhere_in_the_folder_score_only_them(ws: Workspace, tmp_path: Path) -> None:
    folder, counter = tmp_path / "in", tmp_path / "counter"
    write_files(folder, [f"f{i:02d}" for i in range(0, 20, 2)])  # f00, f02, ..., f18
    params = {"folder": str(folder), "counter": str(counter)}
    folder_pipe.submit(params=params, workspace=ws).raise_for_status()
    assert len(calls(counter)) == 4
    for p in counter.glob("*"):
        p.unlink()
    write_files(folder, ["f01", "f07", "f19"])  # between existing files, and at the end
    (folder / "f04").write_text("changed")
    (folder / "f06").unlink()
    run = folder_pipe.submit(params=params, workspace=ws).raise_for_status()
    assert sorted(sum(calls(counter), [])) == ["f01", "f04", "f07", "f19"]
    results = run.outputs["results"].load()
    assert results["file"].tolist() == sorted(p.name for p in folder.iterdir())
    assert results.set_index("file").loc["f04", "size"] == len("changed")
    # another mini_batch_size keeps every file's result: nothing is scored again
    for p in counter.glob("*"):
        p.unlink()
    run = folder_pipe.submit(params={**params, "batch_size": 5}, workspace=ws).raise_for_status()
    assert calls(counter) == [] and len(run.outputs["results"].load()) == 12


azure = parallel_run(
    entry=ENTRIES / "azure_args.py",
    name="azure",
    arguments=["--scale", "2.5", "--label", "argv"],
    environment_variables={"SCORE_ENV": "from-env"},
    append_row_file_name="scored.csv",
    max_concurrency=1,
    glob="*.txt",
)


@pipeline(name="azure")
def azure_pipe(folder: Path):
    step = azure(data=folder)
    return {"results": step.outputs.results, "csv": step.outputs.results_file}


def test_unported_azure_script_reads_arguments_and_environment(
    ws: Workspace, tmp_path: Path
) -> None:
    write_files(tmp_path / "in", ["a.txt", "b.txt", "skip.md"])
    run = azure_pipe.submit(
        params={"folder": str(tmp_path / "in")}, workspace=ws
    ).raise_for_status()
    results = run.outputs["results"].load()
    assert results["file"].tolist() == ["a.txt", "b.txt"]
    assert results["scaled"].tolist() == [len("a.txt:x") * 2.5, len("b.txt:x") * 2.5]
    assert set(results["label"]) == {"argv"} and set(results["env"]) == {"from-env"}
    csv = pd.read_csv(run.outputs["csv"].path)
    assert csv.columns.tolist() == ["file", "scaled", "label", "env"]
    assert csv["file"].tolist() == ["a.txt", "b.txt"]


def _azure_variant(**changes: object) -> Any:
    settings: dict[str, Any] = {
        "arguments": ["--scale", "2.5", "--label", "argv"],
        "environment_variables": {"SCORE_ENV": "from-env"},
        "glob": "*.txt",
        "max_concurrency": 1,
    }
    step = parallel_run(entry=ENTRIES / "azure_args.py", name="azure", **{**settings, **changes})

    @pipeline(name="azure-variant")
    def variant(folder: Path):
        return {"results": step(data=folder).outputs.results}

    return variant


def test_what_parallel_run_was_defined_with_is_in_the_steps_key(
    ws: Workspace, tmp_path: Path
) -> None:
    """arguments=, environment_variables= and glob= change results: a run with other ones
    scores again (the same data); the same definition again is reused."""
    write_files(tmp_path / "in", ["a.txt", "b.txt", "skip.md"])
    params = {"folder": str(tmp_path / "in")}

    def submit(**changes: object):
        return _azure_variant(**changes).submit(params=params, workspace=ws).raise_for_status()

    first = submit()
    assert submit().steps["azure"].reused
    scaled = submit(arguments=["--scale", "3", "--label", "argv"])
    assert not scaled.steps["azure"].reused
    assert scaled.outputs["results"].load()["scaled"].tolist() == [7 * 3.0, 7 * 3.0]
    env = submit(environment_variables={"SCORE_ENV": "other"}).outputs["results"].load()
    assert set(env["env"]) == {"other"}
    every = submit(glob="*").outputs["results"].load()
    assert every["file"].tolist() == ["a.txt", "b.txt", "skip.md"]
    assert first.outputs["results"].load()["file"].tolist() == ["a.txt", "b.txt"]
    scale = submit(max_concurrency=2)  # how many workers: the same results, reused
    assert scale.steps["azure"].reused


summary = parallel_run(
    entry=ENTRIES / "summary.py",
    name="summary",
    output_action="summary_only",
    mini_batch_size=2,
    max_concurrency=2,
)


@pipeline(name="summary")
def summary_pipe(folder: Path):
    return {"output": summary(data=folder).outputs.output}


def test_summary_only_collects_what_entries_write(ws: Workspace, tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a", "b", "c"])
    run = summary_pipe.submit(params={"folder": str(tmp_path / "in")}, workspace=ws)
    out = Path(run.raise_for_status().outputs["output"].path)
    assert sorted(p.name for p in out.iterdir()) == ["a.out", "b.out", "c.out"]
    assert (out / "b.out").read_text() == "B:X"
    # a new file: the committed mini-batches' files are kept, the new one's added
    write_files(tmp_path / "in", ["d"])
    run = summary_pipe.submit(params={"folder": str(tmp_path / "in")}, workspace=ws)
    out = Path(run.raise_for_status().outputs["output"].path)
    assert sorted(p.name for p in out.iterdir()) == ["a.out", "b.out", "c.out", "d.out"]
    assert run.steps["summary"].metrics["mini_batches_reused"] == 2  # [a, b] and [c]


def test_editing_the_entry_scores_everything_again(ws: Workspace, tmp_path: Path) -> None:
    entry = tmp_path / "entry.py"
    entry.write_text((ENTRIES / "behave.py").read_text())
    step = parallel_run(entry=entry, name="edited", mini_batch_size=2, max_concurrency=1)

    @pipeline(name="edited")
    def edited(folder: Path, counter: str):
        return {"results": step(data=folder, counter=counter).outputs.results}

    write_files(tmp_path / "in", ["a", "b", "c"])
    params = {"folder": str(tmp_path / "in"), "counter": str(tmp_path / "c")}
    edited.submit(params=params, workspace=ws).raise_for_status()
    again = edited.submit(params=params, workspace=ws).raise_for_status()
    assert again.steps["edited"].reused  # nothing changed: the step itself is reused
    entry.write_text(entry.read_text().replace("len(p.read_bytes())", "len(p.read_bytes()) * 10"))
    changed = edited.submit(params=params, workspace=ws).raise_for_status()
    assert not changed.steps["edited"].reused
    assert changed.steps["edited"].metrics["mini_batches_reused"] == 0
    assert changed.outputs["results"].load()["size"].tolist() == [len("a:x") * 10] * 3


sizes = parallel_run(entry=ENTRIES / "sizes.py", name="sizes", mini_batch_size=1)


@pipeline(name="sizes")
def sizes_pipe(folder: Path):
    return {"results": sizes(data=folder).outputs.results}


def test_a_file_name_that_is_not_utf8_is_scored_and_shown_escaped(
    ws: Workspace, tmp_path: Path
) -> None:
    """Parquet cannot store such a name as text: the ``file`` column shows its odd bytes as
    ``\\xNN``, while the entry reads the real file."""
    import os

    folder = tmp_path / "in"
    write_files(folder, ["ok.txt"])
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as f:
        f.write(b"four")
    run = sizes_pipe.submit(params={"folder": str(folder)}, workspace=ws).raise_for_status()
    results = run.outputs["results"].load()
    assert results["file"].tolist() == ["caf\\xe9.txt", "ok.txt"]
    assert results["result"].tolist() == [4, len("ok.txt:x")]
    again = sizes_pipe.submit(params={"folder": str(folder)}, workspace=ws).raise_for_status()
    assert again.steps["sizes"].reused
