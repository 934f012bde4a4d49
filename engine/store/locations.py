"""Where data is (a local path or an fsspec URL) and what it holds (its content fingerprint).

The store's face of ``headrace.engine.fingerprint.files`` for code outside the engine (the
scheduler's data-change triggers): local files are fingerprinted through the workspace's
``StatCache``, so an unchanged file is not read again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..fingerprint import files
from ..fingerprint.files import split_protocol

if TYPE_CHECKING:
    from .statcache import StatCache

__all__ = ["fingerprint_file", "fingerprint_url", "is_local", "split_protocol"]


def is_local(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a local path or a ``file://`` URL (not a remote store)."""
    return split_protocol(location)[0] in (None, "file", "local")


def fingerprint_file(path: str | os.PathLike[str], stat_cache: StatCache | None = None) -> str:
    """The content fingerprint of a local file (its name and location do not count).

    Args:
        path: The file.
        stat_cache: The workspace's stat cache: an unchanged file is not read again.

    Raises:
        FileNotFoundError: The file does not exist (any more).
    """
    return files.fingerprint_file(path, stat_cache)


def fingerprint_url(url: str, storage_options: dict[str, Any] | None = None) -> str:
    """The content fingerprint of a file or folder at an fsspec URL (a store checksum if kept).

    Args:
        url: An fsspec URL such as ``s3://bucket/in/a.csv``.
        storage_options: fsspec options (credentials, endpoint...).

    Raises:
        FileNotFoundError: Nothing exists at the URL.
    """
    return files.fingerprint_url(url, storage_options)
