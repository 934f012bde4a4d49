"""Every run, on any executor, mirrored to a Prefect server through its client API.

When the workspace's server runs (``headrace ui``) or PREFECT_API_URL answers, a run becomes a
flow run named ``PIPELINE-RUNID`` (tagged with the pipeline and the run's tags, such as its
schedule) and each step a task run with its states, its attempts' logs and a metrics table,
linked to its upstream task runs; the flow run carries a markdown summary. The steps never run
through Prefect's engine: the runner's events go on a queue that one background thread sends,
so a slow or vanished server costs the run nothing but a bounded wait at its end; a process that
exits while a mirror is still sending (a short ``headrace run``) waits a little longer for it at
exit. A server that does not answer a short health probe (cached) means no mirroring, and no
``import prefect``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ....status import Status
from ..base import RunInfo
from .connect import mark_down, post_artifact, server_url, sync_client
from .executor import artifact_key
from .summary import jsonable, run_summary

if TYPE_CHECKING:
    from ....store.workspace import Workspace
    from ...task import StepResult

log = logging.getLogger("headrace.prefect.mirror")

BUSY_RETRIES = (0.2, 0.5, 1.0)  # pauses before sending again what a busy server refused (503)
FLUSH = 5.0  # seconds the end of a run waits at most for the mirror to catch up
EXIT_WAIT = 30.0  # seconds the process's exit waits at most for mirrors still sending
LOG_BATCH = 500  # log lines per request
_sending_lock = threading.Lock()
_sending: list[Mirror] = []  # closed mirrors whose thread was still sending after FLUSH


def mirror(run: RunInfo, ws: Workspace) -> Mirror | None:
    """A started :class:`Mirror` of ``run``, or None when no Prefect server answers (or the
    mirror cannot start: it never fails the run)."""
    try:
        url = server_url(ws.root)
        return None if url is None else Mirror(url, run, ws)
    except Exception as exc:
        log.debug("headrace: not mirroring run %s to Prefect: %r", run.run_id, exc)
        return None


@dataclass(frozen=True)
class _End:
    status: Status
    error: str | None


class Mirror:
    """Sends one run's events to a Prefect server from a background thread.

    Args:
        url: the Prefect API URL (it answered a health probe).
        run: the run.
        ws: its workspace (reused steps' metrics and the summary are read from its history).
    """

    def __init__(self, url: str, run: RunInfo, ws: Workspace):
        self.url, self.run, self.ws = url, run, ws
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False
        self.flow_run_id: Any = None
        self.task_runs: dict[str, uuid.UUID] = {}  # step → its task run id
        self.created: set[str] = set()  # steps whose task run exists
        self.pending: list[tuple[str, dict[str, Any]]] = []  # (step, log record) to send
        self.deadline: float | None = None  # when the flush is half over
        self.finished = False  # the flow run has its final state
        self.deferred: list[tuple[Any, ...]] = []  # sends put off until the flow run ended
        self.states: dict[str, Status] = {}
        self.ready = threading.Event()  # prefect is imported and the client made
        self.thread = threading.Thread(
            target=self._work, name=f"headrace-mirror-{run.run_id}", daemon=True
        )
        self.thread.start()

    def event(
        self, step: str, status: Status, info: dict[str, Any], result: StepResult | None = None
    ) -> None:
        """Queue a step event (the runner's ``_emit``); never blocks."""
        if not self.closed and self.thread.is_alive():  # a mirror that gave up queues nothing
            self.queue.put((step, status, dict(info), result))

    def close(self, status: Status, error: str | None = None) -> None:
        """Queue the run's end and wait up to FLUSH seconds for everything to be sent (the
        thread goes on sending afterwards while the process lives, and the process's exit
        waits up to EXIT_WAIT seconds more for it)."""
        if self.closed:
            return
        self.closed = True
        self.deadline = time.monotonic() + FLUSH / 2
        self.queue.put(_End(status, error))
        self.thread.join(FLUSH)
        if self.thread.is_alive():
            log.debug("headrace: the Prefect mirror of run %s is still sending", self.run.run_id)
            # prefect cannot be imported once the interpreter is exiting (it registers
            # threading atexit hooks): a process about to exit waits for the import here
            self.ready.wait(EXIT_WAIT)
            with _sending_lock:
                if not _sending:
                    atexit.register(_wait_at_exit)  # once: the list is never empty again
                _sending[:] = [m for m in _sending if m.thread.is_alive()] + [self]

    def _work(self) -> None:
        try:
            with sync_client(self.url, self.ws.root) as client:
                self.ready.set()
                _patiently(self._flow_run, client)
                while True:
                    batch = [self.queue.get()]
                    with contextlib.suppress(queue.Empty):
                        while True:
                            batch.append(self.queue.get_nowait())
                    end = batch.pop() if isinstance(batch[-1], _End) else None
                    self._send(client, batch, end)
                    if end is not None:
                        if not self.finished:
                            self._finish(client, end)
                        for send in self.deferred:  # metrics put off while behind
                            self._guarded(*send)
                        return
        except Exception as exc:  # the server went away: stop mirroring this run
            log.debug("headrace: stopped mirroring run %s to Prefect: %r", self.run.run_id, exc)
            mark_down(self.url)
        finally:
            self.ready.set()
            with contextlib.suppress(Exception):  # this thread's history reads are over
                self.ws.history.release_reader()

    def _late(self) -> bool:
        """Whether the run has ended and its flush is half over: from then on states go
        first, then the flow run's end and logs, then metrics."""
        return self.deadline is not None and time.monotonic() > self.deadline

    def _send(
        self, client: Any, batch: list[tuple[str, Status, dict[str, Any], Any]], end: _End | None
    ) -> None:
        """Send a batch of events; a step's intermediate states are left out when a later
        event of the same step is in the batch (a fast step costs one request, not two).
        Behind at the end of the run, the flow run's end goes before the remaining steps."""
        last = {item[0]: i for i, item in enumerate(batch)}
        for i, (step, status, info, result) in enumerate(batch):
            if end is not None and not self.finished and self._late():
                self._guarded(self._finish, client, end)
            self._guarded(self._on_event, client, step, status, info, result, last[step] > i)
        records = [r for step, r in self.pending if step in self.created]
        self.pending = []
        for start in range(0, len(records), LOG_BATCH):
            self._guarded(client.create_logs, records[start : start + LOG_BATCH])

    def _guarded(self, send: Any, *args: Any) -> None:
        """Send one thing; a rejected request costs only that thing, a lost server the rest."""
        import httpx

        try:
            _patiently(send, *args)
        except httpx.TransportError:
            raise
        except Exception as exc:
            log.debug("headrace: Prefect mirror of run %s: %r", self.run.run_id, exc)

    def _flow_run(self, client: Any) -> None:
        from prefect.states import Running

        run = self.run
        flow = SimpleNamespace(name=run.pipeline, version=None, retries=0, retry_delay_seconds=0)
        tags = ["headrace", f"pipeline:{run.pipeline}", f"headrace-run:{run.run_id}"]
        tags += [f"{k}:{v}" for k, v in run.tags.items()]
        self.flow_run_id = client.create_flow_run(
            flow,
            name=f"{run.pipeline}-{run.run_id}",
            parameters=jsonable(run.params),
            tags=tags,
            state=Running(message=f"headrace run {run.run_id}"),
        ).id

    def _on_event(
        self,
        client: Any,
        step: str,
        status: Status,
        info: dict[str, Any],
        result: Any,
        superseded: bool,
    ) -> None:
        from prefect.states import AwaitingRetry, Cancelled, Completed, Failed, Running

        late = self._late()  # behind at the end: no Running states, metrics put off
        if status is Status.RUNNING:
            if result is not None:  # an attempt failed; the retry follows
                self._logs(step, result)
            if not (superseded or late):
                retry = f"attempt failed: {_error(result)}" if result is not None else None
                self._state(client, step, AwaitingRetry(message=retry) if retry else Running())
            return
        self.states[step] = status
        if info.get("reused"):
            source = info["reused_from"]
            self._state(client, step, Completed(name="Cached", message=f"reused from run {source}"))
            self._log_lines(step, [f"outputs of {step} reused from run {source}"], time.time())
            rows = self.ws.history.get_metrics(source, info.get("source_step") or step)
            metrics = [(r["name"], r["value"]) for r in rows]
            self._put_off(late, self._metrics, client, step, metrics, source)
        elif status in (Status.COMPLETED, Status.FAILED):
            if status is Status.COMPLETED:
                took = f" in {info['duration']:.2f} s" if info.get("duration") is not None else ""
                self._state(client, step, Completed(message=f"{step} completed{took}"))
            else:
                why = info.get("error") or (_error(result) if result is not None else "failed")
                self._state(client, step, Failed(message=f"{step} failed: {why}"))
            if result is not None:
                self._logs(step, result)
                metrics = [(n, v) for n, v, _ in result.metrics]
                self._put_off(late, self._metrics, client, step, metrics)
        elif status is Status.SKIPPED:
            self._state(client, step, Cancelled(name="Skipped", message=self._skip_reason(step)))
        elif status is Status.CANCELED:
            self._state(client, step, Cancelled(message="the headrace run was canceled"))

    def _put_off(self, late: bool, send: Any, *args: Any) -> None:
        if late:
            self.deferred.append((send, *args))
        else:
            send(*args)

    def _state(self, client: Any, step: str, state: Any) -> None:
        """Give ``step``'s task run ``state``, creating it (linked to its upstream) first."""
        if step in self.created:
            client.set_task_run_state(self.task_runs[step], state, force=True)
            return
        from prefect.client.schemas.objects import TaskRunResult

        # Upstream task runs by the ids chosen for them, created yet or not: a batch may skip
        # a step before its upstream's first state is sent (the graph ignores dangling links).
        ups = [self._task_run_id(u) for u in self.run.upstream.get(step, ())]
        key = f"headrace-{self.run.pipeline}-{step}"  # what create_task_run reads of a Task
        task = SimpleNamespace(name=step, task_key=key, tags=(), version=None, retries=0)
        task.retry_delay_seconds, task.retry_jitter_factor = 0, None
        client.create_task_run(
            task,
            self.flow_run_id,
            dynamic_key=step,
            id=self._task_run_id(step),
            name=step,
            state=state,
            task_inputs={"wait_for": [TaskRunResult(id=u) for u in dict.fromkeys(ups)]},
        )
        self.created.add(step)

    def _task_run_id(self, step: str) -> uuid.UUID:
        """``step``'s task run id, chosen here so that logs can name it before it exists."""
        return self.task_runs.setdefault(step, uuid.uuid4())

    def _logs(self, step: str, result: StepResult) -> None:
        """The attempt's captured output as the task run's logs; a failure adds its traceback."""
        lines = result.logs.splitlines()
        if not result.ok:
            lines.append(f"attempt {result.attempt} failed: {_error(result)}")
        self._log_lines(step, lines, result.started_at, failed=not result.ok)
        if not result.ok and result.traceback:
            self._log_lines(step, [result.traceback], result.finished_at, failed=True)

    def _log_lines(self, step: str, lines: list[str], at: float, failed: bool = False) -> None:
        """Queue log records for the task run of ``step`` (sent after the batch's states)."""
        flow_run, task_run = str(self.flow_run_id), str(self._task_run_id(step))
        for i, line in enumerate(lines):
            level = logging.ERROR if failed and i == len(lines) - 1 else _level(line)
            stamp = datetime.fromtimestamp(at + i * 1e-6, tz=UTC).isoformat()
            record = {"name": f"headrace.{step}", "level": level, "message": line}
            record |= {"timestamp": stamp, "flow_run_id": flow_run, "task_run_id": task_run}
            self.pending.append((step, record))

    def _metrics(
        self, client: Any, step: str, metrics: list[tuple[str, Any]], source: str | None = None
    ) -> None:
        """A table artifact of the step's metrics on its task run (a reused step's: its source's)."""
        if not metrics:
            return
        from prefect.client.schemas.actions import ArtifactCreate

        where = f" (reused from run {source})" if source else ""
        table = [{"metric": n, "value": jsonable(v)} for n, v in metrics]
        post_artifact(
            client,
            ArtifactCreate(
                key=artifact_key(self.run.pipeline, step, "metrics"),
                type="table",
                data=json.dumps(table),
                description=f"metrics logged by step {step} of {self.run.pipeline}{where}",
                flow_run_id=self.flow_run_id,
                task_run_id=self.task_runs.get(step),
            ),
        )

    def _skip_reason(self, step: str) -> str:
        ups = self.run.upstream.get(step, ())
        for state, verb in ((Status.FAILED, "failed"), (Status.SKIPPED, "was skipped")):
            bad = [u for u in dict.fromkeys(ups) if self.states.get(u) == state]
            if bad:
                return f"not run: upstream step {', '.join(bad)} {verb}"
        failed = [s for s, st in self.states.items() if st is Status.FAILED]
        if failed:
            return f"not run: the run stopped after step {', '.join(failed)} failed"
        return "not run: the run stopped before this step could start"

    def _finish(self, client: Any, end: _End) -> None:
        """The run summary on the flow run, then the flow run's final state."""
        from prefect.client.schemas.actions import ArtifactCreate
        from prefect.states import Cancelled, Completed, Failed

        self.finished = True

        def summary() -> None:
            post_artifact(
                client,
                ArtifactCreate(
                    key=artifact_key(self.run.pipeline, "run-summary"),
                    type="markdown",
                    data=run_summary(self.ws, self.run.run_id),
                    description=f"headrace run {self.run.run_id}",
                    flow_run_id=self.flow_run_id,
                ),
            )

        self._guarded(summary)
        failed = [s for s, st in self.states.items() if st is Status.FAILED]
        state: Any
        if end.status is Status.COMPLETED:
            state = Completed(message=f"headrace run {self.run.run_id} completed")
        elif end.status is Status.CANCELED:
            state = Cancelled(message=end.error or "the headrace run was canceled")
        else:
            why = f"{len(failed)} step(s) failed: {', '.join(failed)}" if failed else end.error
            state = Failed(message=why or "the headrace run failed")
        client.set_flow_run_state(self.flow_run_id, state, force=True)


def mirror_recorded(ws: Workspace, run_id: str) -> None:
    """Report a run that was recorded without running (a firing that never started) to the
    Prefect server, when one answers: a flow run in its final state with its error and tags.
    Waits for the server as the end of a run does (prefect cannot be imported at exit)."""
    row = ws.history.get_run(run_id)
    if row is None:
        return
    tags = row.get("tags") or {}
    info = RunInfo(run_id, row["pipeline"], row["params"], workspace=ws.root, tags=tags)
    sender = mirror(info, ws)
    if sender is not None:
        sender.close(Status(row["status"]), row.get("error"))


def _patiently(send: Any, *args: Any) -> None:
    """``send(*args)``, sent again after a short pause when a busy server refuses it (503, 429)."""
    for pause in BUSY_RETRIES:
        try:
            send(*args)
            return
        except Exception as exc:
            if getattr(getattr(exc, "response", None), "status_code", None) not in (429, 503):
                raise
            time.sleep(pause)
    send(*args)


def _wait_at_exit() -> None:
    """At interpreter exit, give mirrors still sending up to EXIT_WAIT seconds in all to finish
    (their threads are daemons: without this, a short CLI run loses what was not sent yet)."""
    with _sending_lock:
        busy = [m for m in _sending if m.thread.is_alive()]
    if not busy:
        return
    runs = ", ".join(m.run.run_id for m in busy)
    wait = f"up to {EXIT_WAIT:.0f} s; Ctrl-C skips it"
    print(f"headrace: sending run {runs} to the Prefect server ({wait})", file=sys.stderr)
    deadline = time.monotonic() + EXIT_WAIT
    try:
        for m in busy:
            m.thread.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:  # the user would rather not wait: the rest is not mirrored
        return
    left = [m.run.run_id for m in busy if m.thread.is_alive()]
    if left:
        print(f"headrace: gave up sending run {', '.join(left)} to Prefect", file=sys.stderr)


_LEVELS = {f"{name} ": level for name, level in logging.getLevelNamesMapping().items()}


def _level(line: str) -> int:
    """A captured logging record's level (its line starts with it), else INFO."""
    head = line[: line.find(" ") + 1]
    return _LEVELS.get(head, logging.INFO) if head.isupper() else logging.INFO


def _error(result: StepResult) -> str:
    return f"{result.error_type}: {result.error}" if result.error_type else result.error
