"""The helper modules entry files import from their own folders.

Python keeps one module per name in a process. An entry beside its own ``utils.py`` that is
loaded where another ``utils`` of the user's is imported already (another entry folder's, or
the pipeline's own) would bind that one: it would run, and be fingerprinted, with the other's
code. Such an entry is refused, in the submitting process and in every worker process. A
standard-library or installed module of that name is the user's choice (``email.py`` beside
an entry that imports ``email.message``), and folders are compared by their real paths.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ParallelRunError
from ..fingerprint.modkind import file_kind


@contextmanager
def own_helpers(folder: str, module: types.ModuleType) -> Iterator[None]:
    """Around the execution of the entry file ``module`` from ``folder``: afterwards, refuse
    it when it bound a module (or something from one) whose name a file beside it has, but
    that was loaded from somewhere else.

    Raises:
        ParallelRunError: naming both files and the fix.
    """
    yield
    folder = os.path.realpath(folder)
    for name, where in _bound_modules(module):
        if _holds(folder, name) and not _inside(where, folder) and file_kind(where) == "user":
            raise ParallelRunError(
                f"the entry {module.__file__} imports {name!r}, and a {name}.py is beside it, "
                f"but this process imported another {name!r} first ({where}); Python keeps "
                f"one module per name, so the entry would run that one. Rename the helper "
                f"(e.g. {name}_{os.path.basename(folder) or 'entry'}), or make the folder a "
                "package and import it relatively"
            )


def _bound_modules(module: types.ModuleType) -> Iterator[tuple[str, str]]:
    """(top-level name, file) of the modules the entry's globals hold or come from."""
    import sys

    seen: set[str] = set()
    for value in list(vars(module).values()):
        if isinstance(value, types.ModuleType):
            name = value.__name__
        else:
            try:
                name = getattr(value, "__module__", None) or ""
            except Exception:  # an object whose attribute lookup raises: not a helper's
                continue
            if not isinstance(name, str) or name == module.__name__:
                continue
        top = name.partition(".")[0]
        owner = sys.modules.get(name)
        where = getattr(owner, "__file__", None)
        if top and where and top not in seen:
            seen.add(top)
            yield top, where


def _holds(folder: str, name: str) -> bool:
    return os.path.isfile(os.path.join(folder, f"{name}.py")) or os.path.isfile(
        os.path.join(folder, name, "__init__.py")
    )


def _inside(path: str, folder: str) -> bool:
    return os.path.realpath(path).startswith(os.path.join(folder, ""))
