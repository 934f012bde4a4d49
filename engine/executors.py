"""``headrace.engine.executors``, the import path the README shows; the code is in ``execution/executors``."""

from .execution.executors import Executor, RunInfo, make_executor

__all__ = ["Executor", "RunInfo", "make_executor"]
