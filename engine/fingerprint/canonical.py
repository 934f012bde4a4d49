"""Pickles that do not depend on the process: sets and frozensets are written sorted.

A set's iteration order follows its elements' hashes, and string hashes change with every
process (PYTHONHASHSEED), so a plain pickle of ``{"a", "b"}`` differs from run to run. A
stored object's address is the hash of its pickle; with this pickler the same object gets
the same address in every process, so an upstream step that re-ran in a new process and
produced an equal object does not re-run its consumers (early cut-off).
"""

from __future__ import annotations

import pickle
from typing import Any


def _sorted(items: Any) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # mixed types: a total order that is still process-independent
        return sorted(items, key=lambda v: (type(v).__qualname__, repr(v)))


def canonical_reduce(obj: Any) -> Any:
    """A reducer override: sets and frozensets by their sorted elements; else NotImplemented."""
    if type(obj) is set:
        return (set, (_sorted(obj),))
    if type(obj) is frozenset:
        return (frozenset, (_sorted(obj),))
    return NotImplemented


class CanonicalPickler(pickle._Pickler):
    """The pure-Python pickler (protocol 5 by default), writing sets in sorted order.

    The C pickler never consults ``reducer_override`` for builtin sets, so it cannot be used.
    """

    def __init__(self, file: Any, protocol: int = 5):
        super().__init__(file, protocol=protocol)

    def reducer_override(self, obj: Any) -> Any:
        """See :func:`canonical_reduce`."""
        return canonical_reduce(obj)


def dump_object(value: Any, path: str) -> None:
    """Write ``value`` with joblib's pickler (fast for numpy arrays), sets sorted."""
    from joblib.numpy_pickle import NumpyPickler

    class _Pickler(NumpyPickler):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            return canonical_reduce(obj)

    with open(path, "wb") as f:
        _Pickler(f, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
