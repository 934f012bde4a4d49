"""Step logs: every attempt's stdout, stderr and logging records, on every executor."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from headrace.engine import component, pipeline
from headrace.engine.execution.capture import LOG_LIMIT
from headrace.engine.store.spools import spool_path
from tests.engine.dags import fails_once
from tests.engine.executor_fixtures import EXECUTORS, every_executor  # noqa: F401
from tests.prefect_fixture import prefect_client_env


@component
def chatty(who: str, lines: int = 20) -> str:
    """Prints, writes to stderr and logs, slowly, so that concurrent steps interleave."""
    log = logging.getLogger("chatty")
    for i in range(lines):
        print(f"{who} out {i}")
        sys.stderr.write(f"{who} err {i}\n")
        log.warning("%s record %d", who, i)
        time.sleep(0.002)
    print(f"{who} no newline at the end", end="")
    return who


@pipeline(name="two-talkers")
def two_talkers(lines: int = 20):
    return {"a": chatty(who="A", lines=lines), "b": chatty(who="B", lines=lines)}


@pipeline(name="retried")
def retried(counter: str):
    return {"n": fails_once(counter=counter)}


def _expected(who: str, lines: int) -> str:
    body = "".join(
        f"{who} out {i}\n{who} err {i}\nWARNING chatty: {who} record {i}\n" for i in range(lines)
    )
    return body + f"{who} no newline at the end\n"


@every_executor
def test_concurrent_steps_keep_their_own_output(ws, make_exec) -> None:
    run = two_talkers.submit(params={"lines": 20}, workspace=ws, executor=make_exec(max_workers=2))
    assert run.status == "Completed"
    assert run.steps["chatty"].logs == _expected("A", 20)
    assert run.steps["chatty_2"].logs == _expected("B", 20)
    (attempt,) = run.steps["chatty"].attempt_history
    assert attempt.ok and attempt.number == 1 and not attempt.truncated
    assert not (ws.root / "logs" / run.id).exists()  # live spools are gone once recorded


@every_executor
def test_each_attempt_keeps_its_log(ws, make_exec, tmp_path) -> None:
    run = retried.submit(
        params={"counter": str(tmp_path / "c")}, workspace=ws, executor=make_exec()
    )
    assert run.status == "Completed"
    first, second = run.steps["fails_once"].attempt_history
    assert (first.ok, first.error, first.logs) == (
        False,
        "ValueError: first attempt fails",
        "attempt 1 starting\n",
    )
    assert (second.ok, second.logs) == (True, "attempt 2 starting\n")
    assert run.steps["fails_once"].logs == "attempt 2 starting\n"


def test_threads_of_other_steps_and_the_caller_are_not_captured(ws, capfd) -> None:
    """Output of threads that are not running a step reaches the terminal unchanged."""
    stop = threading.Event()

    def bystander() -> None:
        while not stop.is_set():
            print("bystander")
            time.sleep(0.001)

    t = threading.Thread(target=bystander)
    t.start()
    try:
        run = two_talkers.submit(params={"lines": 5}, workspace=ws)
    finally:
        stop.set()
        t.join()
    assert "bystander" not in run.steps["chatty"].logs + run.steps["chatty_2"].logs
    seen = capfd.readouterr()
    assert "bystander\n" in seen.out
    # step lines are echoed with the step's name
    assert "[chatty] A out 0\n" in seen.out and "[chatty_2] B err 0\n" in seen.err


def test_a_logging_handler_writing_to_stderr_is_kept_once(ws) -> None:
    handler = logging.StreamHandler()  # writes to sys.stderr as it is when it writes
    logging.getLogger("chatty").addHandler(handler)
    try:
        run = two_talkers.submit(params={"lines": 3}, workspace=ws)
    finally:
        logging.getLogger("chatty").removeHandler(handler)
    assert run.steps["chatty"].logs == _expected("A", 3)


class _Relay(logging.Handler):
    """A user's handler writing records to stderr its own way (not through logging's)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"relayed {self.format(record)}\n")


def _rich_handler() -> logging.Handler:
    from rich.logging import RichHandler

    return RichHandler()  # its console writes to sys.stderr as it is when it writes


@pytest.mark.parametrize("make_handler", [_Relay, _rich_handler], ids=["own-emit", "rich"])
def test_any_handler_writing_a_record_to_stderr_is_kept_once(ws, make_handler) -> None:
    """Prefect's console handler (installed on the root logger of a process that ran a flow)
    and rich's write records through their own code: each record is still kept once."""
    two_talkers.submit(params={"lines": 1}, workspace=ws)  # the routers are in place now
    handler = make_handler()
    logging.getLogger().addHandler(handler)
    try:
        run = two_talkers.submit(params={"lines": 3}, workspace=ws)
    finally:
        logging.getLogger().removeHandler(handler)
    assert run.steps["chatty"].logs == _expected("A", 3)
    assert run.steps["chatty_2"].logs == _expected("B", 3)


@component
def floods(chars: int) -> int:
    for _ in range(chars // 100):
        print("x" * 99)
    print("the last line")
    return chars


@pipeline(name="flood")
def flood(chars: int):
    return {"n": floods(chars=chars)}


def test_the_log_is_capped_with_a_note(ws) -> None:
    run = flood.submit(params={"chars": 3 * LOG_LIMIT}, workspace=ws)
    (attempt,) = run.steps["floods"].attempt_history
    assert attempt.truncated and attempt.log_chars == 3 * LOG_LIMIT + len("the last line\n")
    assert len(attempt.logs) < LOG_LIMIT + 300
    assert "characters (" in attempt.logs and "of output left out here" in attempt.logs
    assert attempt.logs.startswith("x" * 99 + "\n") and attempt.logs.endswith("the last line\n")


@component
def dies(marker: str) -> int:
    print("about to die", flush=True)
    Path(marker).touch()
    os._exit(3)


@pipeline(name="dying")
def dying(marker: str):
    return {"n": dies(marker=marker)}


@pytest.mark.slow
def test_a_worker_that_dies_keeps_what_it_printed(ws, tmp_path) -> None:
    run = dying.submit(
        params={"marker": str(tmp_path / "m")}, workspace=ws, executor="local-processes"
    )
    assert run.status == "Failed"
    assert run.steps["dies"].logs == "about to die\n"
    assert not spool_path(ws.root, run.id, "dies", 1).exists()


@pytest.mark.slow
def test_prefect_task_runs_get_the_lines_and_a_formatted_traceback(
    ws, prefect_server, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_server.url)
    run = retried.submit(params={"counter": str(tmp_path / "c")}, workspace=ws, executor="prefect")
    assert run.status == "Completed"
    logs = _task_run_logs(prefect_server, run.id)
    assert any(m == "attempt 1 starting" for m in logs["fails_once"])
    assert any(m == "attempt 2 starting" for m in logs["fails_once-attempt-2"])
    failure = next(m for m in logs["fails_once"] if "Task run failed" in m)
    assert 'raise ValueError("first attempt fails")' in failure  # the user's frame
    assert "ValueError: first attempt fails" in failure
    assert "StepResult(" not in failure and "NoneType: None" not in failure


def _task_run_logs(server, run_id: str) -> dict[str, list[str]]:
    """Task run name → its log messages, read back from the server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    with prefect_client_env(server), get_client(sync_client=True) as c:
        deadline = time.time() + 20
        while True:  # logs arrive in batches, a moment after the run
            (flow_run,) = c.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=run_id))
            )
            trs = c.read_task_runs(
                task_run_filter=TaskRunFilter(
                    flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run.id])
                )
            )
            names = {t.id: t.name for t in trs}
            rows = c.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id]))
            )
            out: dict[str, list[str]] = {}
            for r in rows:
                if r.task_run_id in names:
                    out.setdefault(names[r.task_run_id], []).append(r.message)
            done = any("attempt 2 starting" in m for m in out.get("fails_once-attempt-2", []))
            if done or time.time() > deadline:
                return out
            time.sleep(0.5)


@pipeline(name="eight-talkers")
def eight_talkers(lines: int = 50):
    return {w: chatty(who=w, lines=lines) for w in "ABCDEFGH"}


def test_eight_concurrent_thread_steps_never_mix(ws) -> None:
    run = eight_talkers.submit(workspace=ws, executor="local", max_workers=8)
    assert run.status == "Completed"
    names = ["chatty", *(f"chatty_{i}" for i in range(2, 9))]
    for name, who in zip(names, "ABCDEFGH", strict=True):
        assert run.steps[name].logs == _expected(who, 50)
