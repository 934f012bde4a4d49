"""What a data-change trigger watches: a local folder or an fsspec URL, listed and fingerprinted."""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.engine.errors import HeadraceError
from headrace.engine.store.credentials import resolve, split_secrets
from headrace.engine.store.durations import seconds
from headrace.engine.store.locations import (
    fingerprint_file,
    fingerprint_url,
    is_local,
    split_protocol,
)

#: Protocols of stores whose "folders" are key prefixes under a bucket (container).
_OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})

#: Default settle windows: a local folder's files also wait for their writer to close them
#: (filesystem events); a polled store's only for their listing to stay the same this long.
LOCAL_SETTLE, POLLED_SETTLE = 0.3, 3.0

#: A file's stat as far as change detection goes: (size, modification stamp).
Stat = tuple[int, str]

#: Folders still to list: (path, path relative to the watched folder).
_Stack = list[tuple[str, str]]

log = logging.getLogger("headrace.scheduler")


def parse_duration(value: str | float, option: str) -> float:
    """Seconds from "30s", "5m", "250ms", "1h", a bare number of seconds ("30", 30).

    Raises:
        HeadraceError: Not a duration.
    """
    try:
        return seconds(value, default_unit="s")
    except ValueError:
        raise HeadraceError(
            f"{option} {value!r} is not a duration; give a number with a unit, e.g. 30s, 5m, 250ms"
        ) from None


@dataclass(frozen=True)
class TriggerSpec:
    """A data-change trigger: where to look, which files, how often, how patiently.

    Attributes:
        path: A local folder (absolute) or an fsspec URL.
        glob: Which files count: a file-name pattern, or a relative-path pattern with "/".
        poll: Seconds between polls (local folders are also watched by events).
        settle: Seconds a file's size and stamp must stay unchanged before it counts.
        data_path_param: The pipeline parameter receiving the change, or None.
        storage_options: fsspec options for a remote URL.
    """

    path: str
    glob: str = "*"
    poll: float = 30.0
    settle: float = 0.3
    data_path_param: str | None = None
    storage_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        path: Any,
        glob: str,
        poll: str | float,
        settle: str | float | None,
        data_path_param: str | None,
        storage_options: dict[str, Any] | None,
    ) -> TriggerSpec:
        """Parse CLI-style values; a local path becomes absolute.

        ``settle`` None is ``LOCAL_SETTLE`` for a local folder, ``POLLED_SETTLE`` for a URL.
        """
        secrets = sorted(split_secrets(storage_options or {})[1])
        if secrets:  # the schedules table is a file: a credential written there leaks
            raise HeadraceError(
                f"storage option {secrets[0]!r} of the watched URL {path} is a credential "
                "given as a literal; schedules are stored in the workspace, so give it as a "
                f'reference the daemon reads from its environment: "{secrets[0]}": '
                f'"env:VARIABLE" (and export VARIABLE where the daemon runs)'
            )
        protocol, text = split_protocol(str(path))
        if protocol is None:
            text = str(Path(text).expanduser().absolute())
        if settle is None:
            settle = LOCAL_SETTLE if is_local(text) else POLLED_SETTLE
        poll_s = parse_duration(poll, "--poll")
        if poll_s <= 0:
            raise HeadraceError(f"--poll {poll!r} must be more than 0 seconds, e.g. 30s")
        return cls(
            text,
            glob or "*",
            poll_s,
            parse_duration(settle, "--settle"),
            data_path_param,
            dict(storage_options or {}),
        )

    @property
    def is_local(self) -> bool:
        """Whether the path is a local folder (watched by filesystem events)."""
        return is_local(self.path)

    def describe(self) -> str:
        """Return e.g. "on change of /data/in (*.csv)"."""
        return f"on change of {self.path} ({self.glob}), poll {self.poll:g}s"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict for the schedules table."""
        return {
            "type": "trigger",
            "path": self.path,
            "glob": self.glob,
            "poll": self.poll,
            "settle": self.settle,
            "data_path_param": self.data_path_param,
            "storage_options": self.storage_options,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TriggerSpec:
        """Inverse of ``to_dict``."""
        return cls(**{k: v for k, v in d.items() if k != "type"})


def _matches(rel: str, glob: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(".") or name.endswith("~"):  # temp files of writers that rename
        return False
    return fnmatch.fnmatch(rel if "/" in glob else name, glob)


def outside(path: str, root: str) -> str | None:
    """Where ``path`` really is when a link takes it out of folder ``root``, else None."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(path)
    inside = target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)
    return None if inside else target


def shown(path: str) -> str:
    """``path`` for a log line, also when its name is not valid UTF-8 (shown escaped)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


class LocalSource:
    """A local folder, listed recursively with ``os.scandir``; files hashed via a StatCache.

    Links are not followed out of the folder: a link to a file or folder elsewhere is ignored
    (a user of a shared drop box must not make the pipeline read what only the owner may),
    a link to a file inside counts as that file, and a link to a folder inside is not
    descended (its files are listed where they are). A name that is not valid UTF-8 cannot be
    recorded in the workspace and is ignored. Each ignored name is logged once.
    """

    def __init__(self, spec: TriggerSpec, stat_cache: Any = None):
        self.spec = spec
        self.root = split_protocol(spec.path)[1].split("://", 1)[-1]
        self.stat_cache = stat_cache
        self._reported: set[str] = set()

    def exists(self) -> bool:
        """Whether the folder exists."""
        return os.path.isdir(self.root)

    def list(self) -> dict[str, Stat]:
        """Matching files: absolute path -> (size, mtime_ns).

        Raises:
            HeadraceError: the folder itself, or a folder in it, is missing or cannot be read
                (a share unmounted, a folder renamed away): its files must not be taken for
                deleted. A sub-folder removed while it is listed is not an error.
        """
        found: dict[str, Stat] = {}
        stack: _Stack = [(self.root, "")]
        while stack:
            folder, rel = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError as exc:
                if folder == self.root:
                    raise HeadraceError(
                        f"the watched folder {shown(folder)} is missing; its files are not "
                        "taken as deleted, and the trigger goes on when it is back (or delete "
                        "the schedule)"
                    ) from exc
                continue  # removed while listing: its files are gone
            except OSError as exc:
                raise HeadraceError(
                    f"the folder {shown(folder)} cannot be listed ({exc.strerror or exc}); "
                    "its files are not taken as deleted; give the daemon's user access to it"
                ) from exc
            for entry in entries:
                try:
                    self._entry(entry, rel, stack, found)
                except OSError:  # vanished while listing
                    continue
        return found

    def _entry(
        self,
        entry: os.DirEntry[str],
        rel: str,
        stack: _Stack,
        found: dict[str, Stat],
    ) -> None:
        if shown(entry.path) != entry.path:
            self._ignore(entry.path, "its name is not valid UTF-8; rename it to have it handled")
        elif entry.is_symlink():
            target = outside(entry.path, self.root)
            if target is not None:
                self._ignore(entry.path, f"it is a link to {shown(target)}, outside the folder")
            elif os.path.isfile(entry.path) and _matches(rel + entry.name, self.spec.glob):
                st = os.stat(entry.path)
                found[entry.path] = (st.st_size, str(st.st_mtime_ns))
        elif entry.is_dir(follow_symlinks=False):
            stack.append((entry.path, f"{rel}{entry.name}/"))
        elif entry.is_file(follow_symlinks=False) and _matches(rel + entry.name, self.spec.glob):
            st = entry.stat(follow_symlinks=False)
            found[entry.path] = (st.st_size, str(st.st_mtime_ns))

    def _ignore(self, path: str, why: str) -> None:
        if path not in self._reported:
            self._reported.add(path)
            log.warning("trigger on %s: ignored %s: %s", self.root, shown(path), why)

    def fingerprint(self, path: str) -> str:
        """The file's content fingerprint (FileNotFoundError when it vanished)."""
        return fingerprint_file(path, self.stat_cache)

    def snapshot(self) -> dict[str, str]:
        """Every matching file's fingerprint (a new trigger's starting cursor)."""
        return _snapshot(self)


class RemoteSource:
    """A folder at an fsspec URL, polled with ``find``; files hashed by content or checksum."""

    def __init__(self, spec: TriggerSpec):
        import fsspec

        self.spec = spec
        self.fs, self.root = fsspec.core.url_to_fs(spec.path, **resolve(spec.storage_options))
        self.root = self.root.rstrip("/")
        self.protocol = split_protocol(spec.path)[0] or "file"

    def exists(self) -> bool:
        """Whether the folder exists; in an object store, any prefix of an existing bucket.

        An object store has no folders: a prefix "exists" only while objects are under it, so
        watching a prefix that is still empty (the usual start) needs only the bucket.
        """
        self.fs.invalidate_cache(self.root)
        if self.fs.exists(self.root):
            return True
        bucket = self.root.split("/", 1)[0]
        return (
            self.protocol in _OBJECT_STORES and bucket != self.root and bool(self.fs.exists(bucket))
        )

    def list(self) -> dict[str, Stat]:
        """Matching files: URL -> (size, ETag/mtime stamp)."""
        self.fs.invalidate_cache(self.root)
        try:
            items = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        found: dict[str, Stat] = {}
        for name, info in items.items():
            rel = name[len(self.root) :].lstrip("/")
            if info.get("type") == "directory" or not _matches(rel, self.spec.glob):
                continue
            stamp = next(
                (info[k] for k in ("ETag", "mtime", "LastModified", "created") if k in info), ""
            )
            found[f"{self.protocol}://{name.lstrip('/')}"] = (
                int(info.get("size") or 0),
                str(stamp),
            )
        return found

    def fingerprint(self, url: str) -> str:
        """The file's content fingerprint (FileNotFoundError when it vanished)."""
        return fingerprint_url(url, resolve(self.spec.storage_options))

    def snapshot(self) -> dict[str, str]:
        """Every matching file's fingerprint (a new trigger's starting cursor)."""
        return _snapshot(self)


Source = LocalSource | RemoteSource


def _snapshot(source: Source) -> dict[str, str]:
    result = {}
    for path in source.list():
        try:
            result[path] = source.fingerprint(path)
        except FileNotFoundError:
            continue
    return result


def open_source(spec: TriggerSpec, stat_cache: Any = None) -> Source:
    """The source a trigger spec watches."""
    return LocalSource(spec, stat_cache) if spec.is_local else RemoteSource(spec)
