"""Code fingerprints: normalized source, helpers, constants, library versions."""

from __future__ import annotations

import enum
import time
from importlib import metadata
from pathlib import Path

import pytest

from headrace.engine.fingerprint import keys as hashing
from headrace.engine.fingerprint.keys import (
    code_fingerprint,
    code_ingredients,
    fingerprint_value,
)

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# ------------------------------------------------------------------------------------- code


def test_code_ignores_comments_docstrings_formatting_decorators(user_modules) -> None:
    plain = user_modules("steps", "def step(x):\n    return x * 2 + 1\n")
    first = code_fingerprint(plain.step)
    edited = user_modules(
        "steps",
        '''
        import functools

        @functools.lru_cache(maxsize=None)
        def step(x):   # a comment
            """A docstring."""
            return (x*2
                    + 1)
        ''',
    )
    assert code_fingerprint(edited.step) == first
    body = user_modules("steps", "def step(x):\n    return x * 2 + 2\n")
    assert code_fingerprint(body.step) != first
    assert code_fingerprint(body.step, version="2") != code_fingerprint(body.step)


def test_code_follows_helpers_in_user_modules(user_modules) -> None:
    user_modules("helpers", "def clean(x):\n    return x.strip()\n")
    main = user_modules(
        "main",
        """
        import PFX_helpers
        from PFX_helpers import clean as imported

        def by_name(x):
            return imported(x)

        def by_attribute(x):
            return PFX_helpers.clean(x)
        """,
    )
    before = code_fingerprint(main.by_name), code_fingerprint(main.by_attribute)
    user_modules("helpers", "def clean(x):\n    return x.strip().lower()\n")
    assert code_fingerprint(main.by_attribute) != before[1]  # helpers alone was reloaded
    main = user_modules("main", (Path(main.__file__).read_text()))
    assert code_fingerprint(main.by_name) != before[0]


def test_code_does_not_depend_on_the_module_name(user_modules) -> None:
    source = """
        import enum

        LIMIT = 3

        class Mode(enum.Enum):
            FAST = 1

        def helper(x):
            return x[:LIMIT]

        def step(x, mode=Mode.FAST):
            return helper(x)
        """
    # The same file is __main__ in one run and "headrace_user_<stem>_<hash>" in the next.
    first, second = user_modules("as_main", source), user_modules("as_loaded", source)
    assert code_fingerprint(first.step) == code_fingerprint(second.step)
    assert fingerprint_value(first.Mode.FAST) == fingerprint_value(second.Mode.FAST)


def test_helpers_with_the_same_name_in_two_modules_both_count(user_modules) -> None:
    user_modules("one", "def clean(x):\n    return x.strip()\n")
    user_modules("two", "def clean(x):\n    return x.lower()\n")
    main = user_modules(
        "both",
        """
        import PFX_one
        import PFX_two

        def step(x):
            return PFX_one.clean(PFX_two.clean(x))
        """,
    )
    before = code_fingerprint(main.step)
    assert sum(label.startswith("fn:clean") for label in code_ingredients(main.step)) == 2
    for name in ("one", "two"):
        user_modules(name, "def clean(x):\n    return x.upper()\n")
        assert code_fingerprint(main.step) != before
        before = code_fingerprint(main.step)


def test_code_includes_constants_closures_classes_and_cycles(user_modules) -> None:
    source = """
        THRESHOLD = 0.5

        class Scaler:
            def scale(self, x):
                return x * 2

        def ping(n):
            return pong(n - 1) if n else 0

        def pong(n):
            return ping(n)

        def step(x):
            return Scaler().scale(x) > THRESHOLD and ping(3) == 0

        def make(k):
            def inner(x):
                return x + k
            return inner
        """
    module = user_modules("consts", source)
    base = code_fingerprint(module.step)
    assert code_fingerprint(user_modules("consts", source).step) == base
    assert code_fingerprint(user_modules("consts", source.replace("0.5", "0.6")).step) != base
    module = user_modules("consts", source.replace("x * 2", "x * 3"))
    assert code_fingerprint(module.step) != base
    assert code_fingerprint(module.make(1)) != code_fingerprint(module.make(2))


def test_code_records_library_versions_not_stdlib(user_modules) -> None:
    module = user_modules(
        "libs",
        """
        import math
        import os.path
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        def fit(x):
            return LogisticRegression(C=math.sqrt(2)).fit(np.asarray(x), os.path.sep)
        """,
    )
    items = code_ingredients(module.fit)
    assert items["lib:scikit-learn"] == metadata.version("scikit-learn")
    assert items["lib:numpy"] == metadata.version("numpy")
    assert not [label for label in items if "math" in label or "os" in label.split(".")]
    assert set(items) == {"code", "version", "lib:scikit-learn", "lib:numpy"}


def test_headrace_itself_counts_as_a_library() -> None:
    def step():
        return hashing.fingerprint_value(1)

    assert code_ingredients(step)["lib:headrace"] == metadata.version("headrace")


def test_code_without_source_falls_back_to_bytecode() -> None:
    namespace: dict = {}
    exec("f = lambda x: x + 1\ng = lambda x: x + 2", namespace)  # no file: no source
    with pytest.warns(UserWarning, match="source of .*<lambda> is unavailable"):
        first = code_fingerprint(namespace["f"])
    with pytest.warns(UserWarning, match="falls back to bytecode"):
        assert code_fingerprint(namespace["g"]) != first


def test_code_fingerprint_is_cached_per_function(user_modules, monkeypatch) -> None:
    module = user_modules("cached", "def step(x):\n    return x\n")
    first = code_fingerprint(module.step)
    monkeypatch.setattr("inspect.getsource", lambda obj: pytest.fail("parsed twice"))
    assert code_fingerprint(module.step) == first
