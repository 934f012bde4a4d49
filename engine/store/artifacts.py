"""The content-addressed artifact store on fsspec: atomic writes, loads by annotation."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..fingerprint.keys import hash_bytes
from ..fingerprint.options import resolve
from ..types import PARAMETER, ArtifactKind, coerce, table_flavor
from .integrity import INLINE, address, bytes_match, inline_bytes, local_matches, local_size
from .leases import Leases
from .serializers import ArtifactFormat, json_bytes, listed_files, serialize
from .staging import owned_name

if TYPE_CHECKING:
    from .statcache import StatCache

_READ_ONLY = 0o444
INLINE_MAX = 1024
"""Parameter values whose JSON is at most this long are kept in their record, not a file."""


@dataclass(frozen=True)
class ArtifactRecord:
    """One stored artifact.

    Attributes:
        fingerprint: the content address (xxh3-128 of kind, format, payload names and bytes).
        kind: the artifact kind (parameter, table, path, paths, object).
        fmt: how it is stored: json, parquet, file, folder, files, joblib.
        uri: where the payload is (a local path or an fsspec URL).
        size: total payload bytes (a reuse check compares it).
        flavor: for tables, "pandas" or "arrow"; otherwise "".
    """

    fingerprint: str
    kind: ArtifactKind
    fmt: ArtifactFormat
    uri: str
    size: int
    flavor: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ArtifactRecord:
        """The record of an ``artifacts`` table row (a mapping by column name)."""
        return cls(
            row["fingerprint"],
            row["kind"],
            row["fmt"],
            row["uri"],
            row["size"],
            row["flavor"] or "",
        )


class ArtifactStore:
    """Artifacts under ``<root>/objects/<fp[:2]>/<fp>/<payload>``; ``root`` is any fsspec URL.

    Payloads are staged in a private folder and moved into place in one rename (local) or
    uploaded before the run records them (remote), so a killed writer never leaves a
    half-written artifact under a recorded address.

    Args:
        root: a local folder or an fsspec URL (``s3://bucket/prefix``, ``memory://x``).
        staging: a local folder for staging (defaults to ``<root>/tmp`` for local roots).
        storage_options: passed to fsspec; ``"env:NAME"`` values are read from the
            environment where the store is opened (workers too), so secrets can stay there.
    """

    def __init__(
        self,
        root: str,
        staging: str | None = None,
        storage_options: dict | None = None,
        stat_db: str | None = None,
    ):
        import fsspec

        self.url = str(root)
        self.storage_options = dict(storage_options or {})  # env: references unresolved
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **resolve(self.storage_options))
        self.is_local = "file" in _protocols(self.fs)
        if self.is_local:
            self.root = os.path.abspath(self.root)
        self.staging = Path(staging or os.path.join(self.root, "tmp"))
        self.output_parent = self.staging / "out"  # where attempts' output_dir folders go
        self.stat_db = stat_db
        self._made: set[str] = set()
        self._stat_cache: StatCache | None = None
        self._stat_lock = threading.Lock()
        self.leases = Leases(self.fs, self.root, self.is_local)

    def spec(self) -> dict[str, Any]:
        """What a worker process needs to open this store again."""
        return {
            "root": self.url,
            "staging": str(self.staging),
            "storage_options": self.storage_options,
            "stat_db": self.stat_db,
        }

    def stat_cache(self) -> StatCache | None:
        """The workspace's stat cache, opened on first use (None where its database is absent)."""
        if self._stat_cache is None and self.stat_db and os.path.exists(self.stat_db):
            with self._stat_lock:
                if self._stat_cache is None:
                    from .statcache import StatCache

                    self._stat_cache = StatCache(self.stat_db)
        return self._stat_cache

    def new_staging_dir(self) -> Path:
        """A fresh private local folder to build payloads in."""
        path = self.staging / owned_name()
        path.mkdir(parents=True)
        return path

    def write(
        self,
        value: Any,
        kind: ArtifactKind,
        annotation: Any = None,
        movable: Path | None = None,
        lease: str | None = None,
    ) -> ArtifactRecord:
        """Serialize ``value`` as ``kind`` and store it under its content address.

        Args:
            value: the step's returned value.
            kind: the output's artifact kind.
            annotation: the output's annotation (tables: pandas or arrow).
            movable: a local folder whose files may be moved rather than copied (the step's
                private output folder).
            lease: the id of the run that will refer to the artifact: it leases the
                artifact before looking for a stored copy, so gc keeps that copy (``leases``).

        Raises:
            ArtifactError: the value does not fit the kind (names what was expected).
        """
        if kind == PARAMETER:
            data = json_bytes(value)
            if len(data) <= INLINE_MAX:  # kept in the record: no file to write or read
                fp = address(kind, "json", "value.json", hash_bytes(data))
                return ArtifactRecord(fp, kind, "json", INLINE + data.decode(), len(data))
            if self.is_local:
                return self._write_small(data, kind, "json", "value.json", lease)
        stage = self.new_staging_dir()
        try:
            fmt, payload, flavor = serialize(value, kind, stage, movable)
            digest, size = _digest_payload(stage / payload)
            fp = address(kind, fmt, payload, digest)
            record = ArtifactRecord(fp, kind, fmt, self._uri(fp, payload), size, flavor)
            if lease is not None:
                self.leases.take(lease, fp)
            self._publish(stage, record, payload)
            return record
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _write_small(
        self,
        data: bytes,
        kind: ArtifactKind,
        fmt: ArtifactFormat,
        payload: str,
        lease: str | None = None,
    ) -> ArtifactRecord:
        """Fast path for small in-memory payloads: hash the bytes, write only when new."""
        fp = address(kind, fmt, payload, hash_bytes(data))
        record = ArtifactRecord(fp, kind, fmt, self._uri(fp, payload), len(data))
        if lease is not None:
            self.leases.take(lease, fp)
        if self.exists(record):
            return record  # the same bytes are stored already, and they verify
        final = os.path.dirname(record.uri)
        self.staging.mkdir(parents=True, exist_ok=True)
        tmp = self.staging / owned_name(".part")
        tmp.write_bytes(data)
        os.chmod(tmp, _READ_ONLY)
        os.makedirs(final, exist_ok=True)
        os.replace(tmp, record.uri)  # atomic: readers see all of the file or none of it
        return record

    def _uri(self, fp: str, payload: str) -> str:
        path = f"{self.root}/objects/{fp[:2]}/{fp}/{payload}"
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def _publish(self, stage: Path, record: ArtifactRecord, payload: str) -> None:
        """Move a staged payload to its address, unless a copy that verifies is already there.

        A copy that is there but damaged (an edited byte, a file deleted from a folder, an
        upload cut off) is replaced, so a re-run with ``regenerate_outputs=True`` repairs the
        store. A complete copy is never moved aside: another step may be reading it.
        """
        fp = record.fingerprint
        final = f"{self.root}/objects/{fp[:2]}/{fp}"
        if self.exists(record):
            return  # same content already stored: deduplicated
        if self.is_local:
            self._publish_local(stage, record, final)
            return
        if self.fs.exists(f"{final}/{payload}"):
            self.fs.rm(f"{final}/{payload}", recursive=True)
        src = stage / payload
        if src.is_dir():
            self.fs.put(str(src), f"{final}/{payload}", recursive=True)
        else:
            self.fs.put_file(str(src), f"{final}/{payload}")

    def _publish_local(self, stage: Path, record: ArtifactRecord, final: str) -> None:
        parent = os.path.dirname(final)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        for path in stage.rglob("*"):
            if path.is_file() and not path.is_symlink():
                os.chmod(path, _READ_ONLY)  # a consumer cannot edit a stored artifact in place
        if os.path.exists(final):
            if self.exists(record):  # another writer just published the same content
                return
            aside = f"{final}.damaged-{uuid.uuid4().hex}"  # damaged: move it aside first
            with contextlib.suppress(FileNotFoundError):
                os.rename(final, aside)
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(stage, final)
        except OSError:
            if not self.exists(record):  # another writer won the race with the same content
                raise

    def lease(self, run_id: str, record: ArtifactRecord) -> None:
        """Claim ``record`` for ``run_id`` before checking that it is stored, so gc keeps it
        (``leases.py``). A value kept in its record has no payload gc could delete: nothing
        to claim."""
        if not record.uri.startswith(INLINE):
            self.leases.take(run_id, record.fingerprint)

    def exists(self, record: ArtifactRecord) -> bool:
        """Whether the artifact is stored and can be trusted.

        A local payload must still hash to its content address (through the stat cache, so
        unchanged large files are not re-read). A remote one must have its recorded size;
        its content is verified when it is loaded. A check that meets a gc deciding about the
        artifact waits for it (``leases.py``).
        """
        if (data := inline_bytes(record)) is not None:
            return bytes_match(record, data)
        self.leases.wait_spared(record.fingerprint)
        if self.is_local:
            return local_matches(record, Path(record.uri), self.stat_cache())
        try:
            return _remote_size(self.fs, record.uri) == record.size
        except OSError:
            return False

    def load(self, record: ArtifactRecord, annotation: Any = None) -> Any:
        """Load an artifact as ``annotation`` asks (a table as pandas or arrow, a path as Path).

        The payload is verified against its content address first: a damaged or planted
        payload is never parsed or unpickled.

        Args:
            record: the stored artifact.
            annotation: the consumer's annotation; defaults to the producer's form.

        Raises:
            ArtifactError: the artifact is gone from the store, or it does not verify.
        """
        try:
            return self._load(record, annotation)
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"artifact {record.fingerprint[:12]} ({record.fmt}) is missing from the store at "
                f"{record.uri}; re-run the step that produced it with regenerate_outputs=True"
            ) from exc

    def _load(self, record: ArtifactRecord, annotation: Any) -> Any:
        if record.fmt == "json":
            data = inline_bytes(record)
            if data is None:
                with self.fs.open(record.uri, "rb") as f:
                    data = f.read()
            if not bytes_match(record, data):
                raise _damaged(record)
            value = json.loads(data)
            return coerce(value, annotation) if annotation is not None else value
        path = self.local_path(record)
        if not local_matches(record, path, self.stat_cache()):
            raise _damaged(record)
        if record.fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, memory_map=True)
            flavor = table_flavor(annotation) if annotation is not None else record.flavor
            if flavor == "arrow":
                return table
            # Arrow's buffers are freed column by column as pandas takes them over: the peak
            # is the frame plus one column, not the frame plus the whole table.
            return table.to_pandas(self_destruct=True, split_blocks=True)
        if record.fmt == "joblib":
            import joblib

            return joblib.load(path)
        if record.fmt == "files":
            return listed_files(path)
        return path

    def local_path(self, record: ArtifactRecord) -> Path:
        """A local path for the payload (remote payloads are downloaded once into staging; an
        inline value is written out as ``value.json``)."""
        if (data := inline_bytes(record)) is not None:
            return self._materialize(record, data)
        if self.is_local:
            return Path(record.uri)
        local = self.staging / "cache" / record.fingerprint / Path(record.uri).name
        if _complete(local, record.size):
            return local
        local.parent.mkdir(parents=True, exist_ok=True)
        # One download per artifact at a time, across threads and processes; a copy that
        # is complete is never removed (another step may be reading it).
        with _download_lock(local.parent / ".lock"):
            if _complete(local, record.size):
                return local
            tmp = self.new_staging_dir()
            try:
                self.fs.get(record.uri, str(tmp / local.name), recursive=record.fmt != "file")
                if local.exists():  # a damaged copy from an interrupted download
                    shutil.rmtree(local) if local.is_dir() else local.unlink()
                os.replace(tmp / local.name, local)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return local

    def _materialize(self, record: ArtifactRecord, data: bytes) -> Path:
        if self.is_local:
            return Path(self._write_small(data, record.kind, record.fmt, "value.json").uri)
        local = self.staging / "cache" / record.fingerprint / "value.json"
        if not (local.is_file() and bytes_match(record, local.read_bytes())):
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.staging / owned_name(".part")
            tmp.write_bytes(data)
            os.replace(tmp, local)
        return local

    def delete(self, record: ArtifactRecord) -> int:
        """Remove an artifact; returns the bytes freed."""
        if inline_bytes(record) is not None:
            return 0  # kept in its record only
        folder = record.uri.rsplit("/", 1)[0]
        try:
            self.fs.rm(folder, recursive=True)
        except FileNotFoundError:
            return 0
        return record.size


_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _fresh_locks() -> None:
    """In a forked child: locks another thread of the parent may have held are not inherited."""
    global _thread_locks_guard
    _thread_locks.clear()
    _thread_locks_guard = threading.Lock()


os.register_at_fork(after_in_child=_fresh_locks)


@contextlib.contextmanager
def _download_lock(path: Path) -> Any:
    """Exclusive across this process's threads (a lock) and other processes (flock)."""
    import fcntl

    with _thread_locks_guard:
        lock = _thread_locks.setdefault(str(path), threading.Lock())
    with lock, open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _complete(path: Path, size: int) -> bool:
    try:
        return path.exists() and local_size(path) == size
    except FileNotFoundError:
        return False


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _digest_payload(path: Path) -> tuple[str, int]:
    """The payload's content fingerprint (see :func:`fingerprint_path`) and total size."""
    from ..fingerprint.keys import fingerprint_path

    return fingerprint_path(path), local_size(path)


def _damaged(record: ArtifactRecord) -> ArtifactError:
    return ArtifactError(
        f"artifact {record.fingerprint[:12]} ({record.fmt}) at {record.uri} does not match its "
        "content address: it was damaged or replaced after it was stored, so it is not used. "
        "Run `headrace verify --repair` to remove damaged copies, then run again "
        "(the steps that produced them re-run)"
    )


def _remote_size(fs: Any, uri: str) -> int:
    info = fs.info(uri)
    if info.get("type") == "directory":
        return sum(v.get("size", 0) for v in fs.find(uri, detail=True).values())
    return int(info.get("size", 0))
