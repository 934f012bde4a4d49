"""Content fingerprints of files and folders: local paths (with a stat cache) and fsspec URLs."""

from __future__ import annotations

import errno
import os
import re
import stat as stat_mod
import threading
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from .digest import BYTES, CHECKSUM, TREE, domain_hasher, update_digest, update_str
from .options import resolve

if TYPE_CHECKING:
    from .statcache import StatCache

__all__ = ["fingerprint_file", "fingerprint_path", "fingerprint_url", "split_protocol"]

CHUNK = 8 << 20  # bytes per read; one reusable buffer per thread
_PARALLEL_MIN_BYTES = 64 << 20  # hash a folder's files on threads above this much to read
# Threads help on many-core machines and fast disks; on two cores they only contend (measured).
_MAX_WORKERS = min(4, (os.cpu_count() or 1) // 2)
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]+)://")
_COLLAPSED_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]+):/(?!/)")
_local = threading.local()


def _buffer() -> memoryview:
    view = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(CHUNK))
    return view


def _missing(path: object) -> FileNotFoundError:
    return FileNotFoundError(
        errno.ENOENT, "cannot fingerprint input: no such file or folder", os.fspath(str(path))
    )


def _hash_local_file(path: str | os.PathLike[str]) -> str:
    hasher = domain_hasher(BYTES)
    view = _buffer()
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := handle.readinto(view):
            hasher.update(view[:n])
    return hasher.hexdigest()


def fingerprint_file(path: str | os.PathLike[str], stat_cache: StatCache | None = None) -> str:
    """Fingerprints a local file by its bytes only (its name and location do not count).

    Args:
        path: The file.
        stat_cache: Optional cache that skips re-reading a file whose stat is unchanged.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    started = time.time_ns()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _missing(path) from None
    if not stat_mod.S_ISREG(st.st_mode):
        raise ValueError(
            f"{os.fspath(path)!r} is not a regular file or folder (a FIFO, socket or device has "
            "no content to fingerprint, and reading it may never end); pass a file or a folder"
        )
    key = os.path.abspath(path)
    if stat_cache is not None and (digest := stat_cache.lookup(key, st)) is not None:
        return digest
    digest = _hash_local_file(path)
    if stat_cache is not None:
        stat_cache.store(key, st, digest, hashed_at_ns=started)
        stat_cache.flush()
    return digest


@dataclass
class _Tree:
    """A walked folder: every subfolder and every regular file, by relative POSIX name."""

    dirs: set[str] = field(default_factory=set)
    files: dict[str, tuple[str, os.stat_result]] = field(default_factory=dict)


def folder_tree(root: str) -> _Tree:
    """Every subfolder and regular file under ``root`` as fingerprinting sees them (symlinks
    followed, loops refused): what a folder's fingerprint is made of."""
    return _walk(root)


def _walk(root: str) -> _Tree:
    tree = _Tree()
    root_st = os.stat(root)
    stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [
        (root, "", frozenset({(root_st.st_dev, root_st.st_ino)}))
    ]
    while stack:
        folder, rel, ancestors = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = f"{rel}{entry.name}"
                try:
                    st = entry.stat()  # follows symlinks: a linked file counts by its content
                except FileNotFoundError:  # a dangling symlink, or deleted while walking
                    continue
                if stat_mod.S_ISDIR(st.st_mode):
                    ident = (st.st_dev, st.st_ino)
                    if ident in ancestors:
                        raise ValueError(f"cannot fingerprint {root}: symlink loop at {name}")
                    tree.dirs.add(name)
                    stack.append((entry.path, name + "/", ancestors | {ident}))
                elif stat_mod.S_ISREG(st.st_mode):
                    tree.files[name] = (entry.path, st)
                # sockets, FIFOs and devices have no stable content: skipped
    return tree


def fingerprint_path(path: str | os.PathLike[str], stat_cache: StatCache | None = None) -> str:
    """Fingerprints a local file or folder by content.

    A file is the hash of its bytes. A folder is the hash of its sorted (relative POSIX
    name, file fingerprint) pairs plus the names of all subfolders (so empty ones count),
    recursively; it does not depend on listing order, on timestamps, or on the folder's own
    name or location.

    Args:
        path: A file or folder.
        stat_cache: Optional cache; unchanged files are not re-read.

    Raises:
        FileNotFoundError: If the path does not exist.
    """
    if not os.path.isdir(path):
        return fingerprint_file(path, stat_cache)
    started = time.time_ns()
    root = os.path.abspath(path)
    tree = _walk(root)
    digests: dict[str, str] = {}
    misses = []
    if stat_cache is not None:
        stat_cache.prefetch(root)
    for name, (full, st) in tree.files.items():
        cached = stat_cache.lookup(full, st) if stat_cache is not None else None
        if cached is None:
            misses.append(name)
        else:
            digests[name] = cached
    digests.update(_hash_many(tree, misses))
    if stat_cache is not None and misses:
        for name in misses:
            full, st = tree.files[name]
            stat_cache.store(full, st, digests[name], hashed_at_ns=started)
        stat_cache.flush()
    return _tree_digest(tree.dirs, digests)


def _hash_many(tree: _Tree, names: list[str]) -> dict[str, str]:
    total = sum(tree.files[name][1].st_size for name in names)
    paths = [tree.files[name][0] for name in names]
    if len(names) > 1 and total >= _PARALLEL_MIN_BYTES and _MAX_WORKERS > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="headrace-hash") as pool:
            return dict(zip(names, pool.map(_hash_local_file, paths), strict=True))
    return {name: _hash_local_file(full) for name, full in zip(names, paths, strict=True)}


def _tree_digest(dirs: set[str], files: dict[str, str]) -> str:
    # Every ancestor folder of a file counts as a folder, whether or not the store lists
    # it (object stores have no real folders), so local and remote trees hash alike.
    all_dirs = set(dirs)
    for name in files:
        parts = name.split("/")[:-1]
        all_dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    entries: list[tuple[bytes, str | None]] = [(_name_bytes(name), None) for name in all_dirs]
    entries += [(_name_bytes(name), digest) for name, digest in files.items()]
    entries.sort(key=lambda entry: entry[0])
    hasher = domain_hasher(TREE)
    for encoded, digest in entries:
        hasher.update(b"d" if digest is None else b"f")
        update_str(hasher, encoded)
        if digest is not None:
            update_digest(hasher, digest)
    return hasher.hexdigest()


def _name_bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def split_protocol(location: str | os.PathLike[str]) -> tuple[str | None, str]:
    """Splits an fsspec URL into (protocol, URL); (None, path) for a plain local path.

    A ``pathlib.Path`` collapses ``s3://b/k`` into ``s3:/b/k``; that spelling is recognised
    when the protocol is one fsspec knows, and restored.

    Args:
        location: A path or URL.
    """
    text = os.fspath(location)
    if match := _URL.match(text):
        return match.group(1).lower(), text
    if isinstance(location, PurePath) and (match := _COLLAPSED_URL.match(text)):
        from fsspec.registry import known_implementations

        protocol = match.group(1).lower()
        if protocol in known_implementations:
            slash = "/" if protocol in ("file", "local") else ""  # file:///abs -> file:/abs
            return protocol, f"{match.group(1)}://{slash}{text[match.end() :]}"
    return None, text


def fingerprint_url(
    url: str, storage_options: dict[str, Any] | None = None, *, trust_checksums: bool = True
) -> str:
    """Fingerprints a file or folder (prefix) at any fsspec URL by content.

    Bytes are read and hashed exactly as for local files, so the same content gives the
    same fingerprint locally, in memory:// or on S3 -- except where the store keeps a
    content-derived checksum that stands in for the bytes (see ``_store_checksum``).

    Args:
        url: An fsspec URL such as ``memory://data/x.csv`` or ``s3://bucket/folder``.
        storage_options: Options for the filesystem (credentials, endpoint, ...).
        trust_checksums: Use a store checksum instead of downloading, where one exists.

    Raises:
        FileNotFoundError: If nothing exists at the URL.
    """
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    fs, root = url_to_fs(url, **resolve(storage_options))
    if isinstance(fs, LocalFileSystem):
        return fingerprint_path(root)
    root = root.rstrip("/") or root
    fs.invalidate_cache(root)  # a stale listing would give a stale fingerprint
    try:
        info = fs.info(root)
    except FileNotFoundError:
        raise _missing(url) from None
    if info.get("type") != "directory":
        return _remote_file(fs, info, trust_checksums)
    dirs: set[str] = set()
    files: dict[str, str] = {}
    for name, item in fs.find(root, withdirs=True, detail=True).items():
        if not name.startswith(root.rstrip("/") + "/"):
            continue  # the root itself (or a sibling sharing its prefix)
        rel = name.rstrip("/")[len(root) :].lstrip("/")
        if item.get("type") == "directory":
            dirs.add(rel)
        else:
            files[rel] = _remote_file(fs, item, trust_checksums)
    return _tree_digest(dirs, files)


def _remote_file(fs: Any, info: dict[str, Any], trust_checksums: bool) -> str:
    checksum = _store_checksum(fs, info) if trust_checksums else None
    if checksum is not None:
        hasher = domain_hasher(CHECKSUM)
        update_str(hasher, checksum)
        return hasher.hexdigest()
    hasher = domain_hasher(BYTES)
    with fs.open(info["name"], "rb", block_size=CHUNK) as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


_PLAIN_ETAG = re.compile(r"^[0-9a-f]{32}(-[0-9]+)?$")


def _store_checksum(fs: Any, info: dict[str, Any]) -> str | None:
    """Returns a content-derived checksum the store keeps for an object, if any.

    S3: the ETag of a single-part upload is the MD5 of the content. A multipart ETag
    (``<md5 of part md5s>-<parts>``) is not a plain MD5 but is still derived from the
    content and the part layout, and is used too: any change of content changes it, so
    reuse is never wrong; the same bytes uploaded with another part size only cost a
    re-run. SSE-KMS/SSE-C ETags are not MD5s but still change whenever the object is
    rewritten with other content. The size is included as a second guard. Checksum
    digests live in their own domain, so they never equal a byte hash. Other stores: None
    (bytes are read).

    Args:
        fs: The fsspec filesystem.
        info: The object's ``fs.info`` / ``fs.find(detail=True)`` entry.
    """
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if not {"s3", "s3a"} & set(protocols):
        return None
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"').lower()
    if not _PLAIN_ETAG.match(etag):
        return None
    return f"s3-etag:{etag}:size={info.get('size')}"
