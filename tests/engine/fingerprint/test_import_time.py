"""Constants computed at import from the clock or the environment are warned about once,
except environment variables the step's key covers (a parallel-run step's
environment_variables=)."""

from __future__ import annotations

import ast
import warnings

import pytest

from headrace.engine.fingerprint.import_time import keyed_environment, warn_if_import_time_value

_counter = iter(range(10**6))


def _warned(source: str, keyed: frozenset[str] = frozenset()) -> list[str]:
    module = f"m{next(_counter)}"  # warned once per (module, name): a new module each time
    with warnings.catch_warnings(record=True) as caught, keyed_environment(keyed):
        warnings.simplefilter("always")
        warn_if_import_time_value("X", ast.parse(source).body, module)
    return [str(w.message) for w in caught]


@pytest.mark.parametrize(
    "source",
    [
        'X = os.environ["MODEL_DIR"]',
        'X = os.environ.get("MODEL_DIR", "/m")',
        'X = os.getenv("MODEL_DIR")',
        'X = float(os.environ["MODEL_DIR"]) * 2',
    ],
)
def test_a_variable_the_key_covers_is_not_warned(source: str) -> None:
    assert _warned(source, frozenset({"MODEL_DIR"})) == []
    assert "computed at import from os." in _warned(source)[0]  # not keyed: warned


@pytest.mark.parametrize(
    "source",
    [
        'X = os.environ["OTHER"]',
        'X = os.environ["MODEL_DIR"] + os.environ["OTHER"]',
        "X = os.environ[name]",  # which one is not known
        "X = dict(os.environ)",
        'X = (os.environ["MODEL_DIR"], time.time())',
    ],
)
def test_other_reads_are_still_warned(source: str) -> None:
    assert len(_warned(source, frozenset({"MODEL_DIR"}))) == 1


def test_a_constant_is_warned_about_once() -> None:
    stmts = ast.parse("X = time.time()").body
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_import_time_value("X", stmts, "once_module")
        warn_if_import_time_value("X", stmts, "once_module")
    assert len(caught) == 1
