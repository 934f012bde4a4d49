"""The helper modules entry files import from their own folders.

Python keeps one module per name in a process: two entries in different folders that each
``import utils`` from beside them would share the first one loaded (its code and its cache
key), so the second step would score with the other's helper. A second entry folder that
holds a helper of a name another entry folder's helper took is refused, in the submitting
process and in every worker process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ParallelRunError

_TAKEN: dict[str, str] = {}  # top-level helper name -> the entry folder it was loaded from


@contextmanager
def own_helpers(folder: str, entry: str) -> Iterator[None]:
    """While the entry file ``entry`` in ``folder`` is executed: refuse a helper it could
    import that another entry folder's helper of the same name shadows; afterwards, note the
    helpers it imported from ``folder``.

    Raises:
        ParallelRunError: naming both files and the fix.
    """
    for name, other in _TAKEN.items():
        if other != folder and _holds(folder, name):
            raise ParallelRunError(
                f"the entry {entry} is beside a helper module {name!r}, but the entry in "
                f"{other} already imported its own {name!r} in this process, and Python keeps "
                f"one module per name: both would run the first one. Rename one of them "
                f"(e.g. {name}_{os.path.basename(folder) or 'b'}), or make the folders packages "
                "and import it relatively"
            )
    before = set(sys.modules)
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            top = name.partition(".")[0]
            module = sys.modules.get(name)
            where = getattr(module, "__file__", None)
            if where and _inside(where, folder) and top not in _TAKEN:
                _TAKEN[top] = folder


def _holds(folder: str, name: str) -> bool:
    return os.path.isfile(os.path.join(folder, f"{name}.py")) or os.path.isfile(
        os.path.join(folder, name, "__init__.py")
    )


def _inside(path: str, folder: str) -> bool:
    return os.path.dirname(os.path.abspath(path)) == folder or os.path.abspath(path).startswith(
        folder + os.sep
    )
