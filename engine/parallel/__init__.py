"""Parallel-run steps for batch inference: resumable, incremental, ordered (DESIGN §8)."""

from .step import ParallelRun, parallel_run

__all__ = ["ParallelRun", "parallel_run"]
