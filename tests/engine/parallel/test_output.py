"""normalize(): what run() returned, keyed to the mini-batch's items (no workers involved)."""

from __future__ import annotations

import pandas as pd
import pytest

from headrace.engine.parallel.output import POS, normalize


def test_returned_rows_are_keyed_by_their_key_column_and_missing_items_fail() -> None:
    frame = pd.DataFrame({"row": [12, 10], "y": [2, 0]})
    scored = normalize(frame, "row", [10, 11, 12], True, "score.py")
    assert scored.failed == (1,) and scored.named
    assert scored.rows[POS].tolist() == [2, 0] and scored.rows["y"].tolist() == [2, 0]


@pytest.mark.parametrize(
    ("key_column", "keys", "returned", "item"),
    [
        ("row", [10, 11, 12], [10, 11, 10], "10"),
        ("file", ["a.txt", "b.txt"], ["b.txt", "a.txt", "b.txt"], "'b.txt'"),
    ],
)
def test_two_rows_for_one_item_are_refused(key_column, keys, returned, item) -> None:
    frame = pd.DataFrame({key_column: returned, "y": range(len(returned))})
    with pytest.raises(
        ValueError, match=f"returned 2 rows for {key_column}={item}; return at most one"
    ):
        normalize(frame, key_column, keys, True, "score.py")


def test_a_base_name_two_items_share_is_called_ambiguous_not_missing() -> None:
    frame = pd.DataFrame({"file": ["img.txt"], "y": [1]})
    with pytest.raises(ValueError, match=r"could be any of 'a/img.txt', 'b/img.txt'"):
        normalize(frame, "file", ["a/img.txt", "b/img.txt", "c.txt"], True, "score.py")
    unique = normalize(pd.DataFrame({"file": ["c.txt"]}), "file", ["a/img.txt", "c.txt"], True, "s")
    assert unique.failed == (0,)


def test_a_leading_double_star_glob_also_matches_files_at_the_top(tmp_path) -> None:
    from headrace.engine.parallel.sources import list_files

    for rel in ["top.csv", "a/deep.csv", "a/b/deeper.csv", "a/skip.txt", "sub/x.csv"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    names = [n for n, _ in list_files(tmp_path, "**/*.csv")]
    assert names == ["a/b/deeper.csv", "a/deep.csv", "sub/x.csv", "top.csv"]
    assert [n for n, _ in list_files(tmp_path, "**/sub/*.csv")] == ["sub/x.csv"]
    assert [n for n, _ in list_files(tmp_path, "*.txt")] == ["a/skip.txt"]


def test_table_results_keep_pandas_own_dtypes() -> None:
    from headrace.engine.parallel.assemble import table_results
    from headrace.engine.parallel.batches import Batch

    def part(values: list) -> pd.DataFrame:
        return pd.DataFrame({POS: range(len(values)), "n": pd.array(values, dtype="Int64")})

    batches = [Batch(0, start=0, stop=2), Batch(1, start=2, stop=4)]
    out = table_results(batches, {0: part([1, None]), 1: part([3, 4])}, {}, None)  # type: ignore[arg-type]
    assert str(out["n"].dtype) == "Int64"
    assert out["row"].tolist() == [0, 1, 2, 3] and out["n"].isna().tolist() == [
        False,
        True,
        False,
        False,
    ]
