"""Tracing a @pipeline body: step names, .named/.after, sub-pipeline prefixes, build-time errors.

test_pipeline.py covers the basic shapes (chain, diamond, one sub-pipeline used twice) and that
every problem is reported at once; this file pins the naming rules and each message in full.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pytest

from headrace.engine import DefinitionError, component, pipeline
from tests.engine.dags import add, make_numbers, scale, total


@component
def ids(n: int = 3) -> list[int]:
    return list(range(n))


@component
def join(names: list[str], sep: str = ",") -> str:
    return sep.join(names)


@component
def count(items: list[float]) -> int:
    return len(items)


@component
def groups() -> dict[str, list[str]]:
    return {}


@component
def lookup(table: dict[str, list[int]]) -> int:
    return len(table)


@component
def side_effect() -> None:
    pass


@pipeline
def inner(df: pd.DataFrame, factor: float = 3.0):
    return {"sum": total(df=scale(df=df, factor=factor).named("scaled"))}


@pipeline
def middle(n: int = 2):
    return {"sum": inner(df=make_numbers(n=n))}


def _problems(pipe) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        pipe.validate()
    return list(info.value.problems)


# --- names ------------------------------------------------------------------------------


def test_repeated_components_count_up_and_skip_names_already_taken() -> None:
    @pipeline
    def repeated():
        make_numbers()
        make_numbers().named("make_numbers_2")
        make_numbers()  # _2 is taken by the explicit name
        make_numbers()

    assert list(repeated.steps) == [
        "make_numbers",
        "make_numbers_2",
        "make_numbers_3",
        "make_numbers_4",
    ]


def test_named_returns_the_handle_and_its_outputs_follow_the_new_name() -> None:
    @pipeline
    def renamed():
        src = make_numbers().named("source")
        return {"sum": total(df=src).named("sum_of_x")}

    defn = renamed.definition
    assert list(defn.steps) == ["source", "sum_of_x"]
    assert defn.steps["sum_of_x"].bindings["df"].step == "source"
    assert defn.outputs["sum"].step == "sum_of_x"
    assert list(defn.graph.edges) == [("source", "sum_of_x")]


def test_names_inside_sub_pipelines_are_prefixed_at_every_level() -> None:
    @pipeline
    def outer():
        first = middle()
        second = middle(n=5)
        return {"a": first.outputs.sum, "b": second}

    defn = outer.definition
    assert list(defn.steps) == [
        "middle.make_numbers",
        "middle.inner.scaled",
        "middle.inner.total",
        "middle_2.make_numbers",
        "middle_2.inner.scaled",
        "middle_2.inner.total",
    ]
    assert defn.steps["middle_2.make_numbers"].bindings["n"].value == 5
    assert defn.steps["middle.inner.scaled"].bindings["df"].step == "middle.make_numbers"
    assert (defn.outputs["a"].step, defn.outputs["b"].step) == (
        "middle.inner.total",
        "middle_2.inner.total",
    )


def test_a_sub_pipeline_prefix_never_equals_a_step_name() -> None:
    @pipeline
    def clash():
        data = make_numbers().named("inner")
        return {"sum": inner(df=data)}

    assert list(clash.steps) == ["inner", "inner_2.scaled", "inner_2.total"]


def test_sub_pipeline_defaults_and_parameters_flow_into_its_steps() -> None:
    @pipeline
    def outer(factor: float = 7.0):
        inner(df=make_numbers())
        inner(df=make_numbers(), factor=factor)

    steps = outer.steps
    assert steps["inner.scaled"].bindings["factor"].value == 3.0
    factor = steps["inner_2.scaled"].bindings["factor"]
    assert (factor.source, factor.name) == ("parameter", "factor")


# --- .after -----------------------------------------------------------------------------


def test_after_accepts_steps_outputs_and_sub_pipelines_and_deduplicates() -> None:
    @pipeline
    def ordered():
        a = add(a=1.0, b=2.0)
        sub = inner(df=make_numbers())
        b = add(a=3.0, b=4.0).after(a, a.outputs.output, sub)
        inner(df=make_numbers()).after(b)

    defn = ordered.definition
    assert defn.steps["add_2"].after == ("add", "inner.scaled", "inner.total")
    assert defn.steps["inner_2.scaled"].after == ("add_2",)
    assert defn.steps["inner_2.total"].after == ("add_2",)
    assert defn.graph.edges["add", "add_2"] == {"kind": "order", "inputs": ()}


def test_after_with_something_else_is_reported() -> None:
    @pipeline
    def wrong_after():
        add(a=1.0, b=2.0).after(5)

    assert _problems(wrong_after) == ["add.after(): expected a step or sub-pipeline, got 5"]


def test_a_cycle_through_after_names_the_steps_and_the_fix() -> None:
    @pipeline
    def cyclic():
        a = add(a=1.0, b=2.0)
        b = add(a=a, b=1.0)
        a.after(b)

    assert _problems(cyclic) == [
        "pipeline 'cyclic' has a cycle: add -> add_2 -> add; "
        "remove one of the .after() calls that close it"
    ]


# --- argument errors --------------------------------------------------------------------


def test_missing_argument_names_the_component_the_type_and_the_fix() -> None:
    @pipeline
    def missing():
        scale()

    assert _problems(missing) == [
        "component 'scale': argument 'df' (pandas.DataFrame) is missing; pass df=... "
        "(a step output, a pipeline parameter or a value)"
    ]


def test_unknown_argument_lists_the_inputs_with_did_you_mean_when_close() -> None:
    @pipeline
    def typos():
        scale(df=make_numbers(), factr=2.0)
        scale(df=make_numbers(), zzz=1)

    assert _problems(typos) == [
        "component 'scale': unknown argument 'factr'. Did you mean 'factor'? "
        "Its inputs: df, factor",
        "component 'scale': unknown argument 'zzz'. Its inputs: df, factor",
    ]


def test_positional_arguments_too_many_or_twice() -> None:
    @pipeline
    def positional():
        total(make_numbers())  # one positional argument is fine
        add(1.0, 2.0, 3.0)
        total(make_numbers(), df=make_numbers())

    assert _problems(positional) == [
        "component 'add': takes 2 inputs (a, b) but got 3 positional arguments; pass them by name",
        "component 'total': argument 'df' is given twice",
    ]


def test_passing_an_uncalled_component_or_a_step_without_outputs() -> None:
    @pipeline
    def uncalled():
        scale(df=make_numbers)
        join(names=["a"], sep=side_effect())

    assert _problems(uncalled) == [
        "component 'scale', argument 'df': got <Component make_numbers (n)>; "
        "call it first and pass the result",
        "component 'join', argument 'sep': step 'side_effect' returns nothing; "
        "to run after it use .after(side_effect)",
    ]


def test_generic_type_mismatches_say_which_part_differs() -> None:
    @pipeline
    def mismatched(label: Optional[int] = None):
        join(names=ids())
        lookup(table=groups())
        join(names=["a"], sep=label)
        count(items=ids())  # list[int] feeds list[float]

    assert _problems(mismatched) == [
        "component 'join', argument 'names': expects list[str] but step 'ids' output 'output' "
        "is list[int] (int does not fit str); pass an output of the right type or change one "
        "of the annotations",
        "component 'lookup', argument 'table': expects dict[str, list[int]] but step 'groups' "
        "output 'output' is dict[str, list[str]] (str does not fit int); pass an output of the "
        "right type or change one of the annotations",
        "component 'join', argument 'sep': expects str but pipeline parameter 'label' is "
        "Optional[int] (int does not fit str); change the parameter's annotation to match",
    ]


def test_a_plain_mismatch_has_no_detail() -> None:
    @pipeline
    def plain():
        join(names=["a"], sep=total(df=make_numbers()))

    assert _problems(plain) == [
        "component 'join', argument 'sep': expects str but step 'total' output 'output' is "
        "float; pass an output of the right type or change one of the annotations"
    ]


def test_sub_pipeline_argument_errors() -> None:
    @pipeline
    def returns_int(df: pd.DataFrame):
        total(df=df)
        return 5

    @pipeline
    def untyped(x):  # type: ignore[no-untyped-def]
        return None

    @pipeline
    def outer():
        inner(dff=make_numbers())
        returns_int(df=make_numbers())
        untyped(x=1)

    assert _problems(outer) == [
        "sub-pipeline 'inner': unknown argument 'dff'. Did you mean 'df'? Its inputs: df, factor",
        "sub-pipeline 'inner': argument 'df' is missing; pass df=...",
        "sub-pipeline 'returns_int' returned int; return a dict of named outputs, "
        'e.g. {"model": train_step.outputs.model}',
        "pipeline 'untyped', parameter 'x': every pipeline parameter needs a name and a type "
        "annotation, e.g. `x: float = 0.1`",
    ]


def test_missing_parameter_annotation_is_reported_with_an_example() -> None:
    @pipeline
    def untyped(n, rate: float = 0.1):  # type: ignore[no-untyped-def]
        scale(df=make_numbers(n=n), factor=rate)

    with pytest.raises(DefinitionError) as info:
        untyped.validate()
    assert info.value.problems == (
        "pipeline 'untyped', parameter 'n': every pipeline parameter needs a name and a type "
        "annotation, e.g. `n: float = 0.1`",
    )
    assert str(info.value).startswith("pipeline 'untyped' is not valid:\n  - ")


def test_branching_on_a_parameter_while_tracing_is_explained() -> None:
    @pipeline
    def branches(use_scale: bool = True):
        data = make_numbers()
        if use_scale:
            data = scale(df=data)
        total(df=data)

    assert _problems(branches) == [
        "<pipeline parameter 'use_scale'> has no value while the pipeline is being built: a "
        "pipeline body only wires steps together; compute with the value inside a @component "
        "instead"
    ]


def test_a_suffix_freed_by_a_rename_is_taken_again() -> None:
    """Names come out as before the linear-time builder: the smallest free suffix."""
    from headrace.engine import component, pipeline

    @component
    def one(x: int = 1) -> int:
        return x

    @pipeline
    def renamed():
        one()
        one().named("other")
        one()
        one()

    assert list(renamed.definition.steps) == ["one", "other", "one_2", "one_3"]
