"""Data-change triggers: settle, debounce and confirm changes by content fingerprint."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headrace.engine.errors import HeadraceError
from headrace.scheduler.open_files import open_for_writing
from headrace.scheduler.source import LocalSource, Source, Stat, TriggerSpec, open_source

log = logging.getLogger("headrace.scheduler")

#: A file written to (an inotify modify event) but not closed yet counts as still being
#: written for this long after its last write at most (a writer that keeps it open for
#: good must not hold its trigger back for ever).
OPEN_WRITE_LIMIT = 60.0


@dataclass(frozen=True)
class Change:
    """What one settled burst changed.

    Attributes:
        changed: Path -> new fingerprint of files with new content (these fire).
        ignored: Files whose stamp changed but whose bytes did not (a touch).
        removed: Files in the cursor that no longer exist.
    """

    changed: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Watch:
    """One trigger's view of its folder between polls.

    A file whose (size, stamp) differs from what was last confirmed is pending; it settles
    once that stat has not changed for ``spec.settle`` seconds and, where filesystem events
    tell (inotify on Linux), its writer has closed it: a file written to and still open is
    never taken mid-write, however slowly it is written (up to ``OPEN_WRITE_LIMIT`` after
    its last write). When every pending file has settled and nothing changed for ``settle``
    seconds, the burst is over: the pending files are fingerprinted and compared with the
    cursor, and one ``Change`` comes back.

    Args:
        name: The schedule's name.
        spec: The trigger.
        cursor: Path -> fingerprint already handled (persisted).
        source: Where the files are (default: opened from ``spec``).
        clock: Monotonic seconds (real time: filesystem events are real).
    """

    def __init__(
        self,
        name: str,
        spec: TriggerSpec,
        cursor: dict[str, str],
        source: Source | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name, self.spec, self.cursor = name, spec, dict(cursor)
        self.source = source or open_source(spec)
        self.clock = clock
        self.dirty = threading.Event()
        self.dirty.set()  # the first check lists everything (files that came while down)
        self.confirmed: dict[str, Stat] = {}
        self.pending: dict[str, tuple[Stat, float]] = {}
        self.last_change = 0.0
        self.next_poll = 0.0
        self.last_scan = -1e9
        self._writing: dict[str, float] = {}  # path -> clock time of its last write, until closed
        self._evented: set[str] = set()  # paths some filesystem event named
        self._lock = threading.Lock()

    def on_event(self, kind: str, path: str, dest: str = "") -> None:
        """Take a filesystem event (watchdog's ``event_type``) on a file in the folder.

        A write ("modified") marks the file as being written until its writer closes it
        ("closed", inotify's IN_CLOSE_WRITE); a file renamed into place or deleted is not
        being written.
        """
        with self._lock:
            self._evented.update(p for p in (path, dest) if p)
            if kind == "modified":
                self._writing[path] = self.clock()
            elif kind in ("closed", "deleted", "moved"):
                self._writing.pop(path, None)
                self._writing.pop(dest, None)

    def writing(self, path: str, now: float) -> bool:
        """Whether ``path`` was written to and is not closed yet (per filesystem events)."""
        with self._lock:
            last = self._writing.get(path)
            if last is not None and now - last >= OPEN_WRITE_LIMIT:
                del self._writing[path]
                return False
            return last is not None

    def next_check(self) -> float:
        """The clock time this watch wants to be checked at (events may come earlier)."""
        if self.dirty.is_set():
            return self.last_scan + self.spec.settle / 4
        if self.pending:
            settled = max(since for _, since in self.pending.values()) + self.spec.settle
            at = max(settled, self.last_change + self.spec.settle)
            with self._lock:  # an open file is checked again at its close event, or the limit
                open_until = [self._writing[p] for p in self.pending if p in self._writing]
            return max([at, *(t + OPEN_WRITE_LIMIT for t in open_until)])
        return self.next_poll

    def check(self) -> Change | None:
        """List the folder; return the burst's change once it has settled, else None."""
        now = self.clock()
        if now < self.next_check():
            return None
        self.dirty.clear()
        self.last_scan = now
        self.next_poll = now + self.spec.poll
        try:
            listing = self.source.list()
        except HeadraceError:  # the folder is gone or unreadable: a fault the schedule shows
            raise
        except Exception as exc:  # a flaky remote store: try again at the next poll
            log.warning(
                "trigger %s: listing %s failed (%s); retrying", self.name, self.spec.path, exc
            )
            return None
        self._observe(listing, now)
        removed = [p for p in self.cursor if p not in listing]
        if self.pending and not self._settled(now):
            return None
        if self._held_open(now):
            return None
        change = self._confirm()
        change = Change(change.changed, change.ignored, removed)
        return change if change.changed or change.ignored or change.removed else None

    def _observe(self, listing: dict[str, Stat], now: float) -> None:
        for path, stat in listing.items():
            if self.confirmed.get(path) == stat:
                self.pending.pop(path, None)
                continue
            seen = self.pending.get(path)
            if seen is None or seen[0] != stat:
                self.pending[path] = (stat, now)
                self.last_change = now
        for path in [p for p in self.pending if p not in listing]:
            del self.pending[path]
        for path in [p for p in self.confirmed if p not in listing]:
            del self.confirmed[path]

    def _settled(self, now: float) -> bool:
        settle = self.spec.settle
        quiet = now - self.last_change >= settle
        return quiet and all(
            now - since >= settle and not self.writing(path, now)
            for path, (_, since) in self.pending.items()
        )

    def _held_open(self, now: float) -> bool:
        """Whether a pending file that no event named (there before the daemon started, or
        renamed in) is open for writing: it then counts as being written, until it is
        closed or ``OPEN_WRITE_LIMIT`` passes."""
        if not isinstance(self.source, LocalSource):
            return False
        with self._lock:
            unseen = [p for p in self.pending if p not in self._evented]
        held = open_for_writing(unseen)
        with self._lock:
            for path in held:
                self._writing[path] = now
                self._evented.add(path)  # its close event (or the limit) ends this
        return bool(held)

    def _confirm(self) -> Change:
        changed: dict[str, str] = {}
        ignored: list[str] = []
        for path, (stat, _) in sorted(self.pending.items()):
            try:
                fingerprint = self.source.fingerprint(path)
            except FileNotFoundError:
                continue
            except Exception as exc:  # unreadable: skip it until its stat changes again
                log.warning("trigger %s: cannot read %s (%s); skipped", self.name, path, exc)
                self.confirmed[path] = stat
                continue
            touched = path in self.confirmed  # else first seen since start: not a touch
            self.confirmed[path] = stat
            if self.cursor.get(path) == fingerprint:
                if touched:
                    ignored.append(path)
            else:
                changed[path] = fingerprint
        with self._lock:
            self._evented.difference_update(self.pending)
        self.pending.clear()
        return Change(changed, ignored)

    def commit(self, change: Change) -> None:
        """Take a recorded change into the in-memory cursor."""
        self.cursor.update(change.changed)
        for path in change.removed:
            self.cursor.pop(path, None)


class EventHub:
    """Filesystem events (watchdog) that mark local watches dirty and wake the daemon.

    Args:
        wake: Set whenever any watched folder has an event.
    """

    def __init__(self, wake: threading.Event):
        self.wake = wake
        self.observer: Any = None
        self.handles: dict[str, Any] = {}

    def add(self, watch: Watch) -> None:
        """Watch a local trigger's folder recursively; polling stays the fallback."""
        if not watch.spec.is_local:
            return
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer

            if self.observer is None:
                self.observer = Observer()
                self.observer.daemon = True
                self.observer.start()
            wake = self.wake

            class _Handler(FileSystemEventHandler):
                def on_any_event(self, event: Any) -> None:
                    if event.event_type in ("opened", "closed_no_write"):
                        return
                    if not event.is_directory:
                        watch.on_event(
                            event.event_type,
                            os.fsdecode(event.src_path),
                            os.fsdecode(getattr(event, "dest_path", "") or ""),
                        )
                    watch.dirty.set()
                    wake.set()

            root = watch.source.root  # type: ignore[union-attr]
            self.handles[watch.name] = self.observer.schedule(_Handler(), root, recursive=True)
        except Exception as exc:  # inotify limits, unsupported filesystems: poll instead
            log.warning(
                "trigger %s: no filesystem events (%s); polling every %gs",
                watch.name,
                exc,
                watch.spec.poll,
            )

    def remove(self, name: str) -> None:
        """Stop watching a trigger's folder."""
        handle = self.handles.pop(name, None)
        if handle is not None and self.observer is not None:
            with contextlib.suppress(Exception):  # already gone with its folder
                self.observer.unschedule(handle)

    def stop(self) -> None:
        """Stop the observer thread."""
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)
