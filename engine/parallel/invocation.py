"""Calling an entry: ``init`` with the side inputs it names, under the ``sys.argv`` and
environment the step gives it, with its exits explained."""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Scorer:
    """A loaded entry, normalized: ``score(mini_batch)`` and ``close()``.

    Attributes:
        score: ``run`` of a module entry, or the instance of a class entry.
        close: ``shutdown`` of a module entry (or the instance's ``shutdown``), or a no-op.
    """

    score: Callable[[Any], Any]
    close: Callable[[], Any]


def start_entry(entry: Any, side: dict[str, Any], label: str) -> Scorer:
    """Call ``init``/``__init__`` with the side inputs it names; return the scorer.

    Raises:
        TypeError: ``init`` asks for an argument that is neither a side input nor defaulted.
    """
    if isinstance(entry, type):
        instance = entry(**_named(entry, side, label))  # the class's signature is __init__'s
        close = getattr(instance, "shutdown", None)
        return Scorer(instance, close if callable(close) else _nothing)
    init = getattr(entry, "init", None)
    if callable(init):
        init(**_named(init, side, label))
    shutdown = getattr(entry, "shutdown", None)
    return Scorer(entry.run, shutdown if callable(shutdown) else _nothing)


def _nothing() -> None:
    return None


def _named(fn: Callable[..., Any], side: dict[str, Any], label: str) -> dict[str, Any]:
    params = list(inspect.signature(fn).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(side)
    given = {p.name: side[p.name] for p in params if p.name in side}
    missing = [
        p.name
        for p in params
        if p.name not in side
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name not in ("args", "kwargs")
    ]
    if missing and not (len(params) == 1 and params[0].kind is params[0].VAR_POSITIONAL):
        raise TypeError(
            f"the entry {label} asks for {', '.join(map(repr, missing))} in its "
            f"init/__init__, but the step has no such side input (it has: "
            f"{', '.join(side) or 'none'}); pass it to the step, e.g. {missing[0]}=..."
        )
    return given


class _StderrTail:
    """``sys.stderr`` that also keeps the last characters written (what argparse said)."""

    LIMIT = 2000

    def __init__(self, stream: Any):
        self.stream, self.tail = stream, ""

    def write(self, text: str) -> int:
        self.tail = (self.tail + text)[-self.LIMIT :]
        return self.stream.write(text) if self.stream is not None else len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def exits_explained() -> Iterator[None]:
    """While the entry is imported or its init() runs: a ``SystemExit`` (argparse refusing
    ``arguments=``, a ``sys.exit()``) becomes a RuntimeError that says what it wrote to stderr.

    Raises:
        RuntimeError: the entry raised SystemExit.
    """
    saved = sys.stderr
    tee = _StderrTail(saved)
    sys.stderr = tee
    try:
        yield
    except SystemExit as exc:
        said = tee.tail.strip()
        raise RuntimeError(
            f"the entry exited (SystemExit: {exc.code})"
            + (f"; it wrote to stderr: {said}" if said else "")
            + ". If argparse refused arguments=, fix arguments= or the parser"
        ) from exc
    finally:
        sys.stderr = saved


_SETTING = threading.RLock()


@contextlib.contextmanager
def entry_setting(
    label: str, arguments: tuple[str, ...], env: tuple[tuple[str, str], ...]
) -> Iterator[None]:
    """``sys.argv`` and ``os.environ`` as the workers give them to the entry, in this process
    while the entry is imported here (to fingerprint it), then restored."""
    with _SETTING:
        saved = {name: os.environ.get(name) for name, _ in env}
        os.environ.update(dict(env))
        try:
            with argv(Path(label).name, arguments):
                yield
        finally:
            os.environ.update({k: v for k, v in saved.items() if v is not None})
            for name in [k for k, v in saved.items() if v is None]:
                os.environ.pop(name, None)  # the entry may have removed it


@contextlib.contextmanager
def argv(program: str, arguments: tuple[str, ...]) -> Iterator[None]:
    """``sys.argv`` as an Azure entry script sees it (``[program, *arguments]``), then restored."""
    saved = sys.argv
    sys.argv = [program, *map(str, arguments)]
    try:
        yield
    finally:
        sys.argv = saved
