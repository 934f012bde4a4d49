"""Bad input is a build-time error naming the step, the argument and the fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from headrace.engine import DefinitionError, parallel_run, pipeline
from tests.engine.parallel.pipelines import ENTRIES, write_files


def test_entry_without_run() -> None:
    with pytest.raises(
        DefinitionError,
        match=r"parallel_run step 'no_run', argument entry=.*no_run.py.*defines no run\(mini_batch\); add `def run\(mini_batch\):`",
    ):
        parallel_run(entry=ENTRIES / "no_run.py")


def test_missing_entry_file() -> None:
    with pytest.raises(
        DefinitionError,
        match=r"parallel_run step 'score', argument entry='missing.py': the file .*missing.py' does not exist; give a path relative to the file that defines the step",
    ):
        parallel_run(entry="missing.py", name="score")


def test_class_entry_without_call() -> None:
    class NoCall:
        def __init__(self) -> None:
            pass

    with pytest.raises(
        DefinitionError,
        match=r"argument entry=.*NoCall: the class has no __call__\(self, mini_batch\)",
    ):
        parallel_run(entry=NoCall)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (
            0,
            r"argument mini_batch_size=0: a mini-batch needs at least one item; give a number >= 1",
        ),
        (
            "0",
            r"argument mini_batch_size='0': a mini-batch needs at least one item; give a number >= 1",
        ),
        (
            "1.5",
            r"argument mini_batch_size='1.5': '1.5' has no unit; give rows as a whole number",
        ),
        (
            "1XB",
            r"argument mini_batch_size='1XB': is not a size; give rows as a whole number \(10\) or a size with a unit",
        ),
    ],
)
def test_bad_mini_batch_size(size, text) -> None:
    with pytest.raises(DefinitionError, match=r"parallel_run step 'score', " + text):
        parallel_run(entry=ENTRIES / "behave.py", name="score", mini_batch_size=size)


def test_bad_mini_batch_size_at_the_call() -> None:
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")

    @pipeline(name="p")
    def p(folder: Path):
        return {"r": step(data=folder, counter="c", mini_batch_size=0).outputs.results}

    with pytest.raises(
        DefinitionError, match="parallel_run step 'score', argument mini_batch_size=0"
    ):
        _ = p.definition


def _build(step, data):
    @pipeline(name="p")
    def p():
        return {"r": step(data=data, counter="c").outputs.results}

    return p.definition


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")
    with pytest.raises(
        DefinitionError,
        match=r"parallel_run step 'score', argument data=.*empty': the folder has no files, so there is nothing to score; put files in it, or pass another folder or glob",
    ):
        _build(step, tmp_path / "empty")


def test_glob_matching_nothing(tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a.txt"])
    step = parallel_run(entry=ENTRIES / "behave.py", name="score", glob="*.png")
    with pytest.raises(DefinitionError, match=r"has no files matching glob='\*.png'"):
        _build(step, tmp_path / "in")


def test_table_files_without_input_format(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")
    with pytest.raises(
        DefinitionError,
        match=r"parallel_run step 'score', argument data=.*t.parquet': it holds parquet files but input_format is not given; pass input_format='parquet' to split their rows into mini-batches, or input_format='files'",
    ):
        _build(step, tmp_path / "t.parquet")


def test_missing_data_path(tmp_path: Path) -> None:
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")
    with pytest.raises(DefinitionError, match=r"argument data=.*nope': it does not exist"):
        _build(step, tmp_path / "nope")


def test_size_for_a_file_input(tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a.txt"])
    step = parallel_run(entry=ENTRIES / "behave.py", name="score", mini_batch_size="1MB")
    with pytest.raises(DefinitionError, match=r"a file input is split by a number of files"):
        _build(step, tmp_path / "in")


def test_other_knobs_and_output_action() -> None:
    with pytest.raises(DefinitionError) as info:
        parallel_run(
            entry=ENTRIES / "behave.py",
            name="score",
            error_threshold=-2,
            run_max_try=0,
            run_invocation_timeout=0,
            output_action="append",
            input_format="json",
        )
    text = str(info.value)
    for part in (
        "argument error_threshold=-2: give a whole number >= 0, or -1 for any number",
        "argument run_max_try=0: give a whole number of attempts >= 1",
        "argument run_invocation_timeout=0: give a number of seconds > 0",
        "argument output_action='append': choose 'append_row'",
        "argument input_format='json': choose one of 'parquet', 'csv', 'files'",
    ):
        assert part in text


def test_missing_data_and_call_outside_a_pipeline() -> None:
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")
    with pytest.raises(DefinitionError, match="call it inside a @pipeline body"):
        step(data="x")

    @pipeline(name="p")
    def p():
        return {"r": step(counter="c").outputs.results}

    with pytest.raises(DefinitionError, match="argument data is missing; pass data="):
        _ = p.definition


def test_output_action_at_the_call_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path / "in", ["a"])
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")

    @pipeline(name="p")
    def p():
        return {
            "r": step(
                data=tmp_path / "in", counter="c", output_action="summary_only"
            ).outputs.results
        }

    with pytest.raises(
        DefinitionError, match="argument output_action: it decides the step's outputs"
    ):
        _ = p.definition


def test_summary_only_with_a_csv_name_is_refused() -> None:
    with pytest.raises(
        DefinitionError, match=r"argument append_row_file_name='x.csv': summary_only steps have"
    ):
        parallel_run(
            entry=ENTRIES / "summary.py", output_action="summary_only", append_row_file_name="x.csv"
        )


def test_a_file_listed_twice_is_refused(tmp_path) -> None:
    (tmp_path / "a").write_text("x")
    (tmp_path / "b").write_text("x")
    step = parallel_run(entry=ENTRIES / "behave.py", name="score")

    with pytest.raises(DefinitionError, match=r"argument data: it lists '[^']*/a' more than once"):

        @pipeline(name="twice")
        def twice():
            return {
                "r": step(data=[tmp_path / "a", tmp_path / "b", tmp_path / "a"]).outputs.results
            }

        assert twice.definition is None  # tracing checks the call (it raises first)
