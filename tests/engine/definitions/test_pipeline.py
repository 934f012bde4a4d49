"""@pipeline tracing: steps, names, parameters, sub-pipelines, and build-time validation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import pytest

from headrace.engine import DefinitionError, ParameterError, component, pipeline
from tests.engine.dags import chain, diamond, failing_branch, make_numbers, scale, total


@component
def two_outputs(x: int) -> tuple[Annotated[int, "left"], Annotated[int, "right"]]:
    return x, x


@component
def consume(value: int) -> int:
    return value


@component
def read_path(path: Path) -> int:
    return len(path.read_bytes())


def test_chain_graph_and_parameters() -> None:
    defn = chain.definition
    assert list(defn.steps) == ["make_numbers", "scale", "total"]
    assert list(defn.graph.edges) == [("make_numbers", "scale"), ("scale", "total")]
    assert [(p.name, p.annotation, p.default) for p in defn.parameters] == [
        ("n", int, 5),
        ("factor", float, 2.0),
    ]
    b = defn.steps["scale"].bindings
    assert (b["df"].source, b["df"].step, b["df"].name) == ("output", "make_numbers", "output")
    assert (b["factor"].source, b["factor"].name) == ("parameter", "factor")
    assert defn.outputs["total"].step == "total"


def test_same_component_twice_gets_suffixed_names() -> None:
    assert list(diamond.steps) == ["make_numbers", "scale", "total", "scale_2", "total_2", "add"]
    assert set(diamond.graph.predecessors("add")) == {"total", "total_2"}


def test_named_and_after() -> None:
    defn = failing_branch.definition
    assert "independent" in defn.steps
    assert defn.graph.edges["boom", "add_2"]["kind"] == "order"
    assert defn.steps["add_2"].upstream == ("slow_ok", "boom")


def test_sub_pipeline_is_inlined_with_prefixed_names() -> None:
    @pipeline
    def inner(df: pd.DataFrame, factor: float = 3.0):
        return {"sum": total(df=scale(df=df, factor=factor))}

    @pipeline(name="outer")
    def outer(n: int = 3):
        data = make_numbers(n=n)
        first = inner(df=data)
        second = inner(df=data, factor=10.0)
        return {"a": first.outputs.sum, "b": second}

    defn = outer.definition
    assert list(defn.steps) == [
        "make_numbers",
        "inner.scale",
        "inner.total",
        "inner_2.scale",
        "inner_2.total",
    ]
    assert defn.steps["inner_2.scale"].bindings["factor"].value == 10.0
    assert defn.steps["inner.scale"].bindings["df"].step == "make_numbers"
    assert defn.outputs["b"].step == "inner_2.total"


def test_every_problem_is_reported_at_once() -> None:
    @pipeline
    def broken(n: int, unused: str, path: Path = Path("x")):
        nums = make_numbers(nn=n)  # typo
        scale(df=nums, factr=2.0)  # typo
        total(df=5)  # wrong constant type is fine for tables? (an object) -> checked below
        consume(value=two_outputs(x=1))  # several outputs
        consume(value=scale(df=nums))  # table into int
        read_path()  # missing argument

    with pytest.raises(DefinitionError) as info:
        broken.validate()
    text = str(info.value)
    assert "component 'make_numbers': unknown argument 'nn'. Did you mean 'n'?" in text
    assert "component 'scale': unknown argument 'factr'. Did you mean 'factor'?" in text
    assert "step 'two_outputs' has several outputs (left, right); pick one" in text
    assert (
        "component 'consume', argument 'value': expects int but step 'scale_2' output 'output' is pandas.DataFrame"
        in text
    )
    assert "component 'read_path': argument 'path' (Path) is missing" in text
    assert "required parameter 'unused' is not used by any step" in text
    assert "pipeline 'broken' is not valid" in text


def test_parameter_type_mismatch_and_constant_errors() -> None:
    @pipeline
    def p(label: str = "a"):
        consume(value=label)
        consume(value="seven")

    with pytest.raises(DefinitionError) as info:
        p.validate()
    assert "expects int but pipeline parameter 'label' is str" in str(info.value)
    assert "argument 'value': expected an int, got 'seven'" in str(info.value)


def test_cycles_are_reported() -> None:
    @pipeline
    def cyclic():
        a = make_numbers()
        b = scale(df=a)
        a.after(b)

    with pytest.raises(
        DefinitionError,
        match=r"has a cycle: .*make_numbers -> scale -> make_numbers|has a cycle: scale -> make_numbers -> scale",
    ):
        cyclic.validate()


def test_body_computing_with_values_is_explained() -> None:
    @pipeline
    def computes(rate: float = 0.1):
        scale(df=make_numbers(), factor=rate * 2)

    with pytest.raises(
        DefinitionError, match=r"its body raised TypeError.*compute inside components"
    ):
        computes.validate()


def test_name_clash_and_unknown_output() -> None:
    @pipeline
    def clash():
        make_numbers().named("x")
        make_numbers().named("x")

    with pytest.raises(DefinitionError, match="step name 'x' is used twice"):
        clash.validate()

    @pipeline
    def unknown_output():
        return {"y": two_outputs(x=1).outputs.lefty}

    with pytest.raises(DefinitionError, match="has no output 'lefty'. Did you mean 'left'"):
        unknown_output.validate()


def test_missing_pipeline_annotation_and_direct_call() -> None:
    @pipeline
    def untyped(n):  # type: ignore[no-untyped-def]
        make_numbers(n=n)

    with pytest.raises(DefinitionError, match=r"parameter 'n': every pipeline parameter needs"):
        untyped.validate()
    with pytest.raises(DefinitionError, match=r"call.*\.submit\(params="):
        chain()


def test_bind_params_validates_and_coerces() -> None:
    defn = chain.definition
    assert defn.bind_params({"n": "7", "factor": "0.5"}) == {"n": 7, "factor": 0.5}
    assert defn.bind_params(None) == {"n": 5, "factor": 2.0}
    with pytest.raises(
        ParameterError,
        match=r"unknown parameter 'nn' .*Did you mean 'n'\? Known parameters: n, factor",
    ):
        defn.bind_params({"nn": 1})
    with pytest.raises(
        ParameterError, match=r"parameter 'n' \(int\) of pipeline 'chain': expected an int, got 'x'"
    ):
        defn.bind_params({"n": "x"})
    with pytest.raises(ParameterError, match=r"expected an int, got the float 2.5"):
        defn.bind_params({"n": 2.5})


def test_required_parameter_missing_at_submit() -> None:
    @pipeline
    def needs(path: Path):
        read_path(path=path)

    with pytest.raises(
        ParameterError, match=r"parameter 'path' \(Path\) is required .* --param path=VALUE"
    ):
        needs.definition.bind_params({})
    assert needs.definition.bind_params({"path": "a/b.csv"}) == {"path": Path("a/b.csv")}
