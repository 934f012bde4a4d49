"""The stat cache as fingerprinting sees it: a Protocol (the SQLite one lives in the store)."""

from __future__ import annotations

import os
from typing import Protocol


class StatCache(Protocol):
    """Remembers file digests by stat identity, so unchanged files are not read again."""

    def lookup(self, path: str | os.PathLike[str], st: os.stat_result) -> str | None:
        """The digest recorded for ``path`` when ``st`` still matches, else None."""
        ...

    def store(
        self,
        path: str | os.PathLike[str],
        st: os.stat_result,
        digest: str,
        hashed_at_ns: int | None = None,
    ) -> None:
        """Remember ``digest`` for ``path`` at stat ``st`` (hashing began at ``hashed_at_ns``)."""
        ...

    def prefetch(self, folder: str | os.PathLike[str]) -> int:
        """Load the entries under ``folder`` at once; returns how many."""
        ...

    def flush(self) -> int:
        """Write the stored entries; returns how many."""
        ...
