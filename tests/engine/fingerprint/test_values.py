"""Value fingerprints: type-aware, repr-exact, order-free, stable across processes."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.engine.fingerprint.keys import (
    UnhashableInput,
    fingerprint_table,
    fingerprint_value,
    hash_bytes,
    new_hasher,
)

PAST = time.time() - 3600  # an mtime safely outside the racy window


class Color(enum.Enum):
    RED = 1


class Shade(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


# ---------------------------------------------------------------------------------- values


def test_fingerprints_are_xxh3_128_hex() -> None:
    assert len(fingerprint_value(1)) == 32
    assert new_hasher().name == "XXH3_128"
    assert hash_bytes(b"abc") == hash_bytes(bytearray(b"abc")) != hash_bytes(b"abd")


def test_value_is_type_aware() -> None:
    values = [1, 1.0, "1", True, None, b"1", [1], (1,), {"1": 1}, Color.RED, Shade.RED, Level.ONE]
    assert len({fingerprint_value(v) for v in values}) == len(values)
    assert fingerprint_value(0) != fingerprint_value(False)
    assert fingerprint_value("") != fingerprint_value(None) != fingerprint_value(b"")


def test_floats_are_repr_exact_and_deterministic() -> None:
    assert fingerprint_value(0.1 + 0.2) != fingerprint_value(0.3)
    assert fingerprint_value(-0.0) != fingerprint_value(0.0)
    assert fingerprint_value(float("nan")) == fingerprint_value(-float("nan"))
    assert fingerprint_value(float("inf")) != fingerprint_value(float("-inf"))


def test_containers_do_not_run_into_each_other() -> None:
    assert fingerprint_value(["ab", "c"]) != fingerprint_value(["a", "bc"])
    assert fingerprint_value([[1], 2]) != fingerprint_value([1, [2]])
    assert fingerprint_value({"a": [1, 2]}) == fingerprint_value({"a": [1, 2]})


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=8))
def test_dict_order_does_not_matter(mapping: dict) -> None:
    reordered = dict(reversed(list(mapping.items())))
    assert fingerprint_value(mapping) == fingerprint_value(reordered)
    assert fingerprint_value({"nested": mapping}) == fingerprint_value({"nested": reordered})


def test_unhashable_values_raise() -> None:
    with pytest.raises(UnhashableInput, match="cannot fingerprint a value of type object"):
        fingerprint_value(object())
    with pytest.raises(TypeError, match="type PosixPath.*by content: fingerprint_path"):
        fingerprint_value(Path("x"))
    loop: list = []
    loop.append(loop)
    with pytest.raises(UnhashableInput, match="self-referencing list"):
        fingerprint_value(loop)


def test_fingerprints_are_stable_across_processes() -> None:
    script = textwrap.dedent(
        """
        import pandas as pd
        from headrace.engine.fingerprint.keys import fingerprint_table, fingerprint_value
        frame = pd.DataFrame({"a": [1, 2], "s": ["x", None]}, index=["i", "j"])
        print(fingerprint_value({"b": [1.5, "x"], "a": None}), fingerprint_table(frame))
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")  # this process has a random seed
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "s": ["x", None]}, index=["i", "j"])
    here = f"{fingerprint_value({'a': None, 'b': [1.5, 'x']})} {fingerprint_table(frame)}\n"
    assert run.stdout == here.encode()
