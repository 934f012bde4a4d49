"""Who is tracing now: the builder of the ``@pipeline`` body being traced (a leaf module)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_builder: ContextVar[Any] = ContextVar("headrace_builder", default=None)


def current_builder() -> Any:
    """The builder tracing a pipeline body right now, or None."""
    return _builder.get()


def start_tracing(builder: Any) -> Any:
    """Make ``builder`` the current one; returns the token :func:`stop_tracing` takes."""
    return _builder.set(builder)


def stop_tracing(token: Any) -> None:
    """Restore the builder that was current before :func:`start_tracing`."""
    _builder.reset(token)
