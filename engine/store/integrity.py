"""Whether a stored payload still is what its content address says: the checks before trust.

An artifact's address is a hash of its kind, format, payload name and content, so a payload
verifies when hashing it again gives the same address. Small payloads are hashed outright;
larger ones go through the workspace's stat cache, which re-reads only files whose size,
mtime, inode or ctime changed since they were last hashed (a same-size edit changes the
mtime and the ctime, so it is seen).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash

from ..fingerprint.files import fingerprint_path
from ..fingerprint.keys import hash_bytes

if TYPE_CHECKING:
    from ..fingerprint.statcache import StatCache
    from .artifacts import ArtifactRecord

SMALL = 1 << 20
"""Payload files below this size are hashed outright (faster than a stat cache lookup)."""


def address(kind: str, fmt: str, payload: str, digest: str) -> str:
    """The content address of a payload called ``payload`` whose content hashes to ``digest``."""
    return xxhash.xxh3_128_hexdigest(f"{kind}\0{fmt}\0{payload}\0{digest}".encode())


INLINE = "inline:"
"""The URI prefix of a small parameter value kept in its record (no file): ``inline:<json>``."""


def payload_name(record: ArtifactRecord) -> str:
    """The payload's file name (``value.json`` for an inline value)."""
    return "value.json" if record.uri.startswith(INLINE) else record.uri.rsplit("/", 1)[-1]


def inline_bytes(record: ArtifactRecord) -> bytes | None:
    """An inline record's payload, or None for a stored one."""
    return record.uri[len(INLINE) :].encode() if record.uri.startswith(INLINE) else None


def bytes_match(record: ArtifactRecord, data: bytes) -> bool:
    """Whether ``data``, the whole payload of a single-file artifact, has the record's address."""
    digest = hash_bytes(data)
    return address(record.kind, record.fmt, payload_name(record), digest) == record.fingerprint


def local_matches(
    record: ArtifactRecord, path: Path, stat_cache: StatCache | None = None, full: bool = False
) -> bool:
    """Whether the local payload at ``path`` has the record's size and content address.

    Args:
        record: the artifact as recorded.
        path: the payload (the store's own copy, or a downloaded one).
        stat_cache: skips re-reading unchanged large files; None hashes everything.
        full: ignore the stat cache and hash every byte (``headrace verify``).
    """
    try:
        st = os.lstat(path)  # one system call: a link, a file's size, or a folder
        if stat.S_ISLNK(st.st_mode):
            return False  # the store never holds links; one planted there is not trusted
        if stat.S_ISREG(st.st_mode):
            if st.st_size != record.size:
                return False
            if record.size < SMALL:
                with open(path, "rb") as handle:
                    return bytes_match(record, handle.read())
        elif local_size(path) != record.size:
            return False
        digest = fingerprint_path(path, None if full else stat_cache)
    except OSError:
        return False
    return address(record.kind, record.fmt, path.name, digest) == record.fingerprint


def local_size(path: Path) -> int:
    """Total bytes of a local file or folder."""
    if path.is_file():
        return path.stat().st_size
    if not path.exists():
        raise FileNotFoundError(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
