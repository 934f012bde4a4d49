"""Benchmark: folder fingerprint throughput against raw xxh3, and the warm stat-cache re-check."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xxhash
from rich.console import Console
from rich.table import Table

from headrace.engine.fingerprint import files as contenthash
from headrace.engine.fingerprint.keys import fingerprint_path
from headrace.engine.store.statcache import StatCache

MIB = 1 << 20


def make_tree(root: Path, total_mib: int, files: int) -> list[Path]:
    """Writes ``files`` files of random bytes totalling ``total_mib`` MiB under ``root``."""
    size = total_mib * MIB // files
    paths = []
    for i in range(files):
        path = root / f"part-{i // 100:02d}" / f"file-{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def baseline(paths: list[Path]) -> None:
    """The raw library: xxh3_128 over each file, 8 MiB readinto buffer, one thread."""
    view = memoryview(bytearray(8 * MIB))
    for path in paths:
        hasher = xxhash.xxh3_128()
        with open(path, "rb", buffering=0) as handle:
            while n := handle.readinto(view):
                hasher.update(view[:n])
        hasher.hexdigest()


Contender = tuple[Callable[[], object], Callable[[object], object]]


def interleaved(repeats: int, contenders: dict[str, Contender]) -> dict[str, list[float]]:
    """Times each contender once per round, round after round (fair on a noisy machine).

    A contender is (setup, fn): ``setup()`` is not timed, ``fn(setup())`` is.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (setup, fn) in contenders.items():
            prepared = setup()
            start = time.perf_counter()
            fn(prepared)
            times[name].append(time.perf_counter() - start)
    return times


def external(tool: str, args: list[str], paths: list[Path]) -> float | None:
    """Times a command-line hasher over all files, if it is on PATH."""
    exe = shutil.which(tool)
    if exe is None:
        return None
    start = time.perf_counter()
    subprocess.run([exe, *args, *map(str, paths)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Runs the benchmark and prints a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, help="where to create the data (default: a temp dir)")
    parser.add_argument("--mib", type=int, default=1024, help="total size in MiB (1024)")
    parser.add_argument("--files", type=int, default=1000, help="number of files (1000)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (best is reported)")
    args = parser.parse_args()
    console = Console(width=None if Console().is_terminal else 120)
    work = Path(tempfile.mkdtemp(prefix="headrace-bench-", dir=args.dir))
    try:
        run(console, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class Ours:
    """fingerprint_path as a contender: each round gets a fresh, empty StatCache database."""

    def __init__(self, work: Path, data: Path) -> None:
        self.work, self.data = work, data
        self.opened: list[float] = []
        self.last_db = work / "unused.db"

    def fresh_cache(self) -> StatCache:
        """Creates a new StatCache database (timed separately, not as fingerprinting)."""
        self.last_db = self.work / f"fresh-{len(self.opened)}.db"
        start = time.perf_counter()
        cache = StatCache(self.last_db)
        self.opened.append(time.perf_counter() - start)
        return cache

    def fingerprint(self, threads: int) -> Callable[[object], object]:
        """The timed part, with ``threads`` hashing threads."""

        def run(cache: object) -> None:
            workers, contenthash._MAX_WORKERS = contenthash._MAX_WORKERS, threads
            try:
                fingerprint_path(self.data, cache)  # type: ignore[arg-type]
            finally:
                contenthash._MAX_WORKERS = workers

        return run


def run(console: Console, work: Path, args: argparse.Namespace) -> None:
    """Creates the data, measures, prints."""
    data = work / "data"
    with console.status(f"writing {args.mib} MiB in {args.files} files..."):
        paths = make_tree(data, args.mib, args.files)
        total = sum(p.stat().st_size for p in paths)
    with console.status("warming the page cache (both sides run warm)..."):
        baseline(paths)
    mb = total / 1e6
    ours = Ours(work, data)
    workers = contenthash._MAX_WORKERS
    base_name = "baseline: raw xxh3_128 per file, 8 MiB readinto, 1 thread"
    contenders: dict[str, Contender] = {
        base_name: (lambda: None, lambda _: baseline(paths)),
        f"(b) fingerprint_path, fresh StatCache, 1 thread{' (default)' * (workers <= 1)}": (
            ours.fresh_cache,
            ours.fingerprint(1),
        ),
    }
    if workers > 1:
        name = f"(b) fingerprint_path, fresh StatCache, {workers} threads (default)"
        contenders[name] = (ours.fresh_cache, ours.fingerprint(workers))
    times = interleaved(args.repeats, contenders)
    rows: list[tuple[str, float, float | None]] = [
        (name, min(ts), statistics.median(ts)) for name, ts in times.items()
    ]
    for tool, tool_args in (("xxhsum", ["-H2"]), ("b3sum", ["--num-threads", "1"])):
        if (seconds := external(tool, tool_args, paths)) is not None:
            rows.append((f"{tool} {' '.join(tool_args)} (CLI)", seconds, None))
    base = (min(times[base_name]), statistics.median(times[base_name]))
    show_throughput(console, rows, mb, base)
    console.print(
        f"(b) excludes creating the fresh StatCache database (best {min(ours.opened) * 1e3:.1f} ms, "
        f"median {statistics.median(ours.opened) * 1e3:.1f} ms); it includes the walk, every stat, "
        "the hashing and writing 1,000 stat-cache rows."
    )
    warm_check(console, data, ours.last_db, args.repeats)


def show_throughput(console: Console, rows: list, mb: float, base: tuple[float, float]) -> None:
    """Prints the throughput table; ``base`` is the baseline's (best, median) seconds."""
    table = Table(title=f"Hashing {mb:,.0f} MB (page cache warm for every row)")
    columns = ("what", "best s", "median s", "MB/s (best)", "vs baseline best", "median")
    for column in columns:
        table.add_column(column, justify="left" if column == "what" else "right")
    for name, best, median in rows:
        table.add_row(
            name,
            f"{best:.3f}",
            "-" if median is None else f"{median:.3f}",
            f"{mb / best:,.0f}",
            f"{base[0] / best:.0%}",
            "-" if median is None else f"{base[1] / median:.0%}",
        )
    console.print(table)


def warm_check(console: Console, data: Path, db: Path, repeats: int) -> None:
    """(c): the second fingerprint of the unchanged folder, stat cache warm."""
    reads = {"n": 0}
    real = contenthash._hash_local_file

    def counting(path: str | os.PathLike[str]) -> str:
        reads["n"] += 1
        return real(path)

    contenthash._hash_local_file = counting  # type: ignore[assignment]
    try:
        timings = []
        for _ in range(repeats):
            start = time.perf_counter()
            cache = StatCache(db)  # a new run: open the database, prefetch, stat every file
            fingerprint_path(data, cache)
            timings.append(time.perf_counter() - start)
        start = time.perf_counter()
        fingerprint_path(data, cache)  # the same StatCache object again (entries in memory)
        same = time.perf_counter() - start
    finally:
        contenthash._hash_local_file = real  # type: ignore[assignment]
    console.print(
        f"(c) unchanged folder again, warm stat cache: best {min(timings) * 1e3:.1f} ms, "
        f"median {statistics.median(timings) * 1e3:.1f} ms with a freshly opened StatCache "
        f"(open + prefetch + stat); {same * 1e3:.1f} ms on the same StatCache; "
        f"files re-read: {reads['n']} (racy entries only)"
    )
    console.print(
        "Page cache cannot be dropped here, so the baseline and ours both run warm "
        "(all files read once before timing)."
    )


if __name__ == "__main__":
    main()
