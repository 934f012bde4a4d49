"""Steps of one run with the same cache key: the first computes, the others are served from it.

Two calls of a component with the same code, parameters and inputs in one pipeline (a
sub-pipeline used twice, a copied line) would otherwise both compute, concurrently, because
neither finds a cache entry when it starts. The later ones wait for the first instead and
reuse its outputs, as a later run would; if the first fails (or its result is not cached)
they run after all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..store.artifacts import ArtifactRecord
from .reuse import Decision


class Twins:
    """Which step of the run computes each cache key, and who waits for it. Pure, no I/O.

    The runner's run id is filled in as ``reused_from`` by the caller's :class:`Decision`.
    """

    def __init__(self, run_id: str = "") -> None:
        self.run_id = run_id
        self._first: dict[str, str] = {}  # cache key → the step computing it
        self._key: dict[str, str] = {}  # computing step → its key
        self._done: dict[str, tuple[str, tuple[tuple[str, ArtifactRecord], ...]]] = {}
        self._waiting: dict[str, list[tuple[str, Decision]]] = {}  # computing step → twins
        self._parked: set[str] = set()

    def on_launch(self, step: str, d: Decision, cacheable: bool) -> Decision | None:
        """A step is about to run: a reuse decision when a twin already computed its key.

        Otherwise the step either becomes the one computing its key (run it), or waits for
        the twin computing it (:meth:`parked` says so; do not run it).
        """
        if d.key is None or not cacheable:
            return None
        if d.key in self._done:
            done, outputs = self._done[d.key]
            return self._served(d, done, outputs)
        computing = self._first.get(d.key)
        if computing is None:
            self._first[d.key] = step
            self._key[step] = d.key
        else:
            self._waiting.setdefault(computing, []).append((step, d))
            self._parked.add(step)
        return None

    def parked(self, step: str) -> bool:
        """Whether ``step`` waits for a twin computing the same key."""
        return step in self._parked

    def on_success(
        self, step: str, outputs: Sequence[tuple[str, ArtifactRecord]]
    ) -> list[tuple[str, Decision]]:
        """``step`` computed its key: the twins waiting for it, each with its reuse decision."""
        key = self._key.pop(step, None)
        if key is None:
            return []
        self._done[key] = (step, tuple(outputs))
        served = []
        for twin, d in self._waiting.pop(step, []):
            self._parked.discard(twin)
            served.append((twin, self._served(d, step, tuple(outputs))))
        return served

    def release(self, step: str) -> list[tuple[str, Decision]]:
        """``step`` failed for good, or its result is not cached: the twins waiting for it,
        to run themselves now."""
        key = self._key.pop(step, None)
        if key is None:
            return []
        del self._first[key]
        twins = self._waiting.pop(step, [])
        for twin, _ in twins:
            self._parked.discard(twin)
        return twins

    def _served(
        self, d: Decision, first: str, outputs: tuple[tuple[str, ArtifactRecord], ...]
    ) -> Decision:
        return replace(
            d,
            reuse=True,
            reason=f"reused from step {first} of this run (same cache key)",
            reused_from=self.run_id,
            outputs=outputs,
            source_step=first,
        )
