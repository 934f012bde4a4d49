"""A step's return value is checked against its declared output type before it is stored."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from headrace.engine import Workspace, component, get_run_context, pipeline


class Model:
    """A concrete class a component declares as its output."""


class TunedModel(Model):
    """A subclass of the declared class: accepted."""


@component
def str_for_float() -> float:
    return "abc"  # type: ignore[return-value]


@component
def float_for_int() -> int:
    return 2.5  # type: ignore[return-value]


@component
def bool_for_int() -> int:
    return True


@component
def int_for_bool() -> bool:
    return 1  # type: ignore[return-value]


@component
def int_for_str() -> str:
    return 5  # type: ignore[return-value]


@component
def bad_literal() -> Literal["a", "b"]:
    return "c"  # type: ignore[return-value]


@component
def dict_for_table() -> pd.DataFrame:
    return {"a": [1, 2]}  # type: ignore[return-value]


@component
def array_for_arrow() -> pa.Table:
    return np.zeros((3, 2))  # type: ignore[return-value]


@component
def int_for_path() -> Path:
    return 3  # type: ignore[return-value]


@component
def missing_path() -> Path:
    return Path("/nonexistent/headrace/out.csv")


@component
def missing_path_in_list() -> list[Path]:
    out = get_run_context().output_dir / "a.txt"
    out.write_text("a")
    return [out, out.with_name("b.txt")]


@component
def str_for_paths() -> list[Path]:
    return "a.txt"  # type: ignore[return-value]


@component
def dict_for_model() -> Model:
    return {"weights": [1.0, 2.0]}  # type: ignore[return-value]


@component
def three_for_two() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
    return 1, 2, 3  # type: ignore[return-value]


@component
def list_for_two() -> tuple[Annotated[int, "a"], Annotated[int, "b"]]:
    return [1, 2]  # type: ignore[return-value]


@component
def second_output_wrong() -> tuple[Annotated[float, "score"], Annotated[pd.DataFrame, "table"]]:
    return 0.5, "not a table"  # type: ignore[return-value]


@component
def unpicklable() -> object:
    return threading.Lock()


FAILURES = [
    (str_for_float, r"output 'output': expected a float, got str 'abc' \(declared float\)"),
    (float_for_int, r"output 'output': expected an int, got float 2\.5 \(declared int\)"),
    (bool_for_int, r"output 'output': expected an int, got bool True \(declared int\)"),
    (int_for_bool, r"output 'output': expected a bool, got int 1 \(declared bool\)"),
    (int_for_str, r"output 'output': expected a str, got int 5 \(declared str\)"),
    (bad_literal, r"expected one of \['a', 'b'\], got str 'c' \(declared Literal\['a', 'b'\]\)"),
    (
        dict_for_table,
        r"output 'output': expected a pandas\.DataFrame or pyarrow\.Table, "
        r"got dict \{'a': \[1, 2\]\} \(declared pandas\.DataFrame\)",
    ),
    (
        array_for_arrow,
        r"expected a pandas\.DataFrame or pyarrow\.Table, got numpy\.ndarray of shape \(3, 2\) "
        r"\(declared pyarrow\.Table\)",
    ),
    (
        int_for_path,
        r"output 'output': expected a pathlib\.Path to a file or folder, got int 3 "
        r"\(declared Path\)",
    ),
    (
        missing_path,
        r"output 'output': the returned path '/nonexistent/headrace/out\.csv' does not exist; "
        r"write the file \(e\.g\. under get_run_context\(\)\.output_dir\) before returning its path",
    ),
    (missing_path_in_list, r"the returned path '.*b\.txt' \(item 1\) does not exist"),
    (
        str_for_paths,
        r"expected a list of pathlib\.Path, got str 'a\.txt' \(declared list\[Path\]\)",
    ),
    (
        dict_for_model,
        r"output 'output': expected tests\.Model, got dict \{'weights': \[1\.0, 2\.0\]\} "
        r"\(declared tests\.Model\); return a value of the declared type or change the return "
        r"annotation",
    ),
    (
        three_for_two,
        r"component 'three_for_two' declares 2 outputs \(a, b\) but returned a tuple of 3 values "
        r"\(1, 2, 3\); return a tuple of 2 values in that order",
    ),
    (list_for_two, r"declares 2 outputs \(a, b\) but returned list \[1, 2\]; return a tuple"),
    (
        second_output_wrong,
        r"output 'table': expected a pandas\.DataFrame or pyarrow\.Table, got str 'not a table'",
    ),
    (
        unpicklable,
        r"output 'output': the returned _thread\.lock cannot be pickled \(TypeError: cannot "
        r"pickle '_thread\.lock' object\); return a picklable value, or save it under "
        r"get_run_context\(\)\.output_dir and return the Path",
    ),
]


def _single_step(comp: Any) -> Any:
    @pipeline(name=f"only-{comp.name}")
    def only():
        comp()

    return only


def _assert_fails_cleanly(run: Any, step: str, message: str) -> None:
    assert run.status == "Failed"
    s = run.steps[step]
    assert s.status == "Failed"
    assert s.error is not None and s.error.startswith("ArtifactError: step ")
    assert s.error == " ".join(s.error.split()), "one line"
    assert re.search(message, s.error), s.error
    # The recorded traceback is the message alone: no headrace frames in front of it.
    assert s.traceback is not None
    assert s.traceback.strip() == f"headrace.engine.errors.{s.error}", s.traceback
    assert s.outputs == {}


@pytest.mark.parametrize(("comp", "message"), FAILURES, ids=[c.name for c, _ in FAILURES])
def test_a_wrong_return_fails_the_step_and_is_not_cached(ws: Workspace, comp, message) -> None:
    p = _single_step(comp)
    first = p.submit(workspace=ws)
    _assert_fails_cleanly(first, comp.name, rf"^ArtifactError: step '{comp.name}', .*{message}")
    again = p.submit(workspace=ws)
    _assert_fails_cleanly(again, comp.name, message)
    assert again.steps[comp.name].reused is False
    assert again.steps[comp.name].attempts == 1


def test_the_message_names_the_step_when_it_differs_from_the_component(ws: Workspace) -> None:
    @pipeline
    def renamed():
        str_for_float().named("predict")

    run = renamed.submit(workspace=ws)
    assert run.steps["predict"].error == (
        "ArtifactError: step 'predict', component 'str_for_float', output 'output': expected a "
        "float, got str 'abc' (declared float); return a value of the declared type or change "
        "the return annotation"
    )


def test_wrong_returns_fail_the_same_in_worker_processes(ws: Workspace) -> None:
    p = _single_step(dict_for_model)
    for _ in range(2):
        run = p.submit(workspace=ws, executor="local-processes")
        _assert_fails_cleanly(run, "dict_for_model", r"expected tests\.Model, got dict")
        assert run.steps["dict_for_model"].reused is False


@component
def int_for_float() -> float:
    return 3


@component
def numpy_scalars() -> tuple[
    Annotated[float, "f"], Annotated[int, "i"], Annotated[bool, "b"], Annotated[str, "s"]
]:
    return np.float64(1.5), np.int64(2), np.bool_(True), np.str_("x")


@component
def numpy_float32() -> float:
    return np.float32(0.25)  # type: ignore[return-value]


@component
def nothing() -> Optional[float]:
    return None


@component
def no_table() -> Optional[pd.DataFrame]:
    return None


@component
def no_file() -> tuple[Annotated[Optional[Path], "file"], Annotated[Optional[Model], "model"]]:
    return None, None


@component
def rows_or_none(df: Optional[pd.DataFrame]) -> int:
    return -1 if df is None else len(df)


@component
def arrow_for_pandas() -> pd.DataFrame:
    return pa.table({"x": [1, 2, 3]})  # type: ignore[return-value]


@component
def subclass() -> Model:
    return TunedModel()


@component
def str_path_and_list() -> tuple[Annotated[Path, "one"], Annotated[list[Path], "many"]]:
    out = get_run_context().output_dir
    for name in ("a.txt", "b.txt", "c.txt"):
        (out / name).write_text(name[0])
    return str(out / "a.txt"), [out / "b.txt", out / "c.txt"]  # type: ignore[return-value]


@pipeline
def accepted():
    ints = numpy_scalars()
    return {
        "int_for_float": int_for_float(),
        "f": ints.outputs.f,
        "i": ints.outputs.i,
        "b": ints.outputs.b,
        "s": ints.outputs.s,
        "f32": numpy_float32(),
        "nothing": nothing(),
        "no_file": no_file().outputs.file,
        "rows": rows_or_none(df=no_table()),
        "arrow": arrow_for_pandas(),
        "model": subclass(),
    }


@pytest.mark.parametrize("executor", ["local", "local-processes"])
def test_compatible_returns_are_stored_as_the_declared_type(ws: Workspace, executor) -> None:
    run = accepted.submit(workspace=ws, executor=executor)
    assert run.status == "Completed", {n: s.error for n, s in run.steps.items() if s.error}
    out = {name: art.load() for name, art in run.outputs.items()}
    assert out["int_for_float"] == 3.0 and type(out["int_for_float"]) is float
    assert [type(out[k]) for k in "fibs"] == [float, int, bool, str]
    assert (out["f"], out["i"], out["b"], out["s"]) == (1.5, 2, True, "x")
    assert out["f32"] == 0.25 and out["rows"] == -1
    assert out["nothing"] is None and out["no_file"] is None
    assert run.outputs["arrow"].load(pd.DataFrame)["x"].to_list() == [1, 2, 3]
    assert type(out["model"]) is TunedModel


def test_paths_given_as_str_are_accepted(ws: Workspace) -> None:
    run = _single_step(str_path_and_list).submit(workspace=ws)
    assert run.status == "Completed", run.steps["str_path_and_list"].error
    outputs = run.steps["str_path_and_list"].outputs
    assert Path(outputs["one"].path).read_text() == "a"
    assert [p.read_text() for p in outputs["many"].load()] == ["b", "c"]


@component
def needs_float(x: float) -> float:
    return x


@pipeline
def none_into_float():
    return {"out": needs_float(x=nothing())}


def test_none_from_an_optional_output_into_a_plain_input_is_explained(ws: Workspace) -> None:
    run = none_into_float.submit(workspace=ws)
    assert run.steps["nothing"].status == "Completed"
    assert run.steps["needs_float"].error == (
        "ArtifactError: step 'needs_float', component 'needs_float', argument 'x': the upstream "
        "value does not fit float (expected a float, got None); declare the input to accept it "
        "(e.g. Optional[...]) or make the upstream step return that type"
    )


@component
def split_files() -> list[Path]:
    out = get_run_context().output_dir
    for name, text in (("train.csv", "a\n1\n"), ("test.csv", "a\n2\n")):
        (out / name).write_text(text)
    (out / "sub").mkdir()
    (out / "sub" / "train.csv").write_text("a\n3\n")  # the same name in another folder
    return [out / "train.csv", out / "test.csv", out / "sub" / "train.csv"]


@component
def file_names(parts: list[Path]) -> str:
    return ",".join(f"{p.name}={p.read_text().split()[1]}" for p in parts)


@pipeline(name="named-parts")
def named_parts():
    parts = split_files()
    return {"parts": parts, "names": file_names(parts=parts)}


def test_a_returned_list_of_paths_keeps_each_files_name_and_order(ws: Workspace) -> None:
    """Consumers and .load() see the names the step gave (Azure's uri_folder keeps them too),
    even when two files share a name."""
    run = named_parts.submit(workspace=ws).raise_for_status()
    assert run.outputs["names"].load() == "train.csv=1,test.csv=2,train.csv=3"
    loaded = run.outputs["parts"].load()
    assert [p.name for p in loaded] == ["train.csv", "test.csv", "train.csv"]
    assert [p.read_text() for p in loaded] == ["a\n1\n", "a\n2\n", "a\n3\n"]
