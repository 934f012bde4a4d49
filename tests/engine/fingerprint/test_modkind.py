"""Where a module comes from, and which distribution (and version) an installed one is."""

from __future__ import annotations

import sys
from importlib import metadata

import numpy
import pytest

from headrace.engine.fingerprint import modkind


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the rule of Python 3.11's packages_distributions"
)
def test_the_distribution_map_is_the_standard_librarys() -> None:
    # both read now (the cached map may be older than a sys.path another test changed)
    ours = {top: sorted(names) for top, names in modkind._packages.__wrapped__().items()}
    theirs = {top: sorted(names) for top, names in metadata.packages_distributions().items()}
    assert ours == theirs


def test_an_installed_module_names_its_distribution_and_version() -> None:
    assert modkind.distribution("numpy.linalg") == ("numpy", numpy.__version__)
    assert modkind.distribution("sklearn")[0] == "scikit-learn"
    assert modkind.distribution("yaml")[0] == "PyYAML"  # declared in top_level.txt


def test_metadata_headers_end_at_the_first_blank_line() -> None:
    assert modkind._name("Metadata-Version: 2.1\nName: a-b\nVersion: 1\n\nName: no") == "a-b"
    assert modkind._name("Metadata-Version: 2.1\n\nName: in the description") is None
    assert modkind._name("metadata-version: 1.0\nname: lower\n") == "lower"  # case-insensitive


def test_record_rows_give_top_level_python_names() -> None:
    record = (
        "pkg/__init__.py,sha256=x,1\n"
        '"odd,name/mod.py",sha256=y,2\n'
        "single.py,,\n"
        "pkg-1.0.dist-info/RECORD,,\n"
        "data/file.txt,,\n"
    )
    assert modkind._inferred(record) == {"pkg", "odd,name", "single"}
