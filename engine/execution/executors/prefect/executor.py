"""The prefect executor: a run is one Prefect flow run, each step attempt a task run.

The runner's loop runs inside the flow run's body and submits a step only once its upstream
steps have finished, so ``wait_for`` on the upstream futures only draws the DAG's edges in
the Prefect UI; headrace still decides readiness, retries, skips, reuse and the run's status.
Prefect's caching and result persistence are off: headrace stores outputs itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ....errors import StepFailedError
from ....status import Status
from ...capture import Sink
from ...task import StepResult, StepTask
from ...worker import attempt
from ..base import RunInfo, infrastructure_failure
from ..shipping import dumps, loads

T = TypeVar("T")
log = logging.getLogger("headrace.prefect")
TASK_RUNNERS = ("threads", "dask")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) built from ``parts``."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


# Attempts running in this process (thread task runner) hand their result straight to the
# runner: reading it back through the Prefect future costs a hop through Prefect's event loop.
_OUTBOX: dict[str, Future[StepResult]] = {}
_OUTBOX_LOCK = threading.Lock()


def _deliver(key: str, result: StepResult) -> None:
    with _OUTBOX_LOCK:
        out = _OUTBOX.pop(key, None)
    if out is not None:
        with contextlib.suppress(InvalidStateError):  # the runner gave up on it (timeout)
            out.set_result(result)


def _step_body(
    step: str,
    pipeline: str,
    payload: Any,
    note: tuple[str, str] | None = None,
    outbox: str | None = None,
) -> Any:
    """The Prefect task: run one attempt (or just report a reused/skipped step) and say how it went."""
    from prefect.states import Cancelled, Completed

    if note is not None:
        kind, message = note
        return (
            Completed(name="Reused", message=message)
            if kind == "reused"
            else (Cancelled(name="Skipped", message=message))
        )
    task = payload if isinstance(payload, StepTask) else loads(payload)[0]
    task = replace(task, echo_logs=False)  # Prefect's console shows the task-run logs
    result, error = attempt(task, _task_run_sink())
    if outbox is not None:
        _deliver(outbox, result)
    if result.metrics:
        from prefect.artifacts import create_table_artifact

        create_table_artifact(
            key=artifact_key(pipeline, step, "metrics"),
            table=[{"metric": n, "value": v} for n, v, _ in result.metrics],
            description=f"metrics logged by step {step} of {pipeline}",
        )
    if result.ok:
        return Completed(data=result)
    # Raised, so Prefect logs the user's formatted traceback (the cause) with the failure.
    failed = StepFailedError(
        step, task.component.name, result.error_type, result.error, result.traceback
    )
    failed.result = result  # type: ignore[attr-defined]  # how a task run elsewhere hands it back
    raise failed from error


def _task_run_sink() -> Sink | None:
    """What a step prints and logs, sent to the task run's logs (as ``log_prints`` does)."""
    from prefect.logging import get_run_logger

    try:
        logger = get_run_logger()
    except Exception:  # no task run context: nothing to send to
        return None

    def sink(stream: str, line: str, level: int) -> None:
        logger.log(level, line)

    return sink


def _send_summary(**artifact: str) -> None:
    """Create the run-summary markdown artifact; a server error only costs the summary."""
    from prefect.artifacts import create_markdown_artifact

    try:
        create_markdown_artifact(**artifact)
    except Exception as exc:
        log.warning("headrace: could not send the run summary to Prefect: %s", exc)


# The body of the flow being run in this context. The flow function itself must not close over
# the runner: Prefect ships the flow run's context (and with it the flow) to Dask workers.
_FLOW_MAIN: contextvars.ContextVar[Callable[[], Any]] = contextvars.ContextVar("headrace_flow")


def _run_flow_main() -> Any:
    return _FLOW_MAIN.get()()


def _flow_function(params: Sequence[str]) -> Callable[..., Any]:
    """A flow function whose signature lists the pipeline parameters (shown in the Prefect UI)."""

    def headrace_pipeline(**values: Any) -> Any:
        return _run_flow_main()

    headrace_pipeline.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY) for k in params]
    )
    return headrace_pipeline


class PrefectExecutor:
    """Runs a pipeline run as a Prefect flow run against a real Prefect server.

    The server is ``PREFECT_API_URL`` when set, else the workspace's own server (started on
    demand, left running). Prefect's temporary ephemeral server is never used.

    Args:
        max_workers: concurrent steps (threads of Prefect's ThreadPoolTaskRunner).
        task_runner: "threads" (default) or "dask" (prefect-dask's DaskTaskRunner).
        dask_address: with ``task_runner="dask"``, an existing scheduler (default: a
            LocalCluster with 2 worker processes for the run).
        workspace: the workspace folder whose server to use (default: the run's workspace).
    """

    name = "prefect"

    def __init__(
        self,
        max_workers: int | None = None,
        task_runner: str = "threads",
        dask_address: str | None = None,
        workspace: str | Path | None = None,
    ):
        if task_runner not in TASK_RUNNERS:
            from ....errors import HeadraceError, did_you_mean

            raise HeadraceError(
                f"unknown Prefect task runner {task_runner!r}.{did_you_mean(task_runner, TASK_RUNNERS)}"
                " Choose threads or dask."
            )
        self.max_workers = max_workers or 8
        self.task_runner = task_runner
        self.dask_address = dask_address
        self.workspace = Path(workspace) if workspace is not None else None
        self.flow_run_id: Any = None  # the last session's flow run (a UUID)
        self.api_url: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._tasks: dict[str, Any] = {}  # Prefect Task objects by task run name
        self._summary_thread: threading.Thread | None = None
        self._futures: dict[str, Any] = {}
        self._states: dict[str, str] = {}
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._run: RunInfo | None = None

    def session(self, run: RunInfo, body: Callable[[], T]) -> T:
        """Run the runner loop as the body of a Prefect flow run; return what it returned."""
        from ....store.workspace import resolve_root
        from .env import api_url_for, pointed_at

        self._reset()
        self._run = run
        root = self.workspace or run.workspace or resolve_root(None)
        self.api_url = api_url_for(root)
        with pointed_at(self.api_url, root):
            try:
                return self._run_flow(run, body)
            finally:
                if self._summary_thread is not None:
                    self._summary_thread.join()

    def _run_flow(self, run: RunInfo, body: Callable[[], T]) -> T:
        import prefect

        outcome: dict[str, Any] = {}

        def flow_main() -> Any:
            from prefect.context import TagsContext

            # The tags are the flow run's. Task runs get none: Prefect asks the server for a
            # concurrency slot per tag before every tagged task run (a round trip per step,
            # and seconds when the server is busy).
            with TagsContext(current_tags=set()):
                try:
                    outcome["value"] = value = body()
                except BaseException as exc:
                    outcome["error"] = exc
                    raise
                return self._finish_flow(run, value)

        make_flow: Any = prefect.flow
        flow = make_flow(
            name=run.pipeline,
            flow_run_name=f"{run.pipeline}-{run.run_id}",
            description=f"headrace pipeline {run.pipeline}",
            persist_result=False,
            validate_parameters=False,
            task_runner=self._make_task_runner(),
            log_prints=False,
        )(_flow_function(list(run.params)))
        tags = ["headrace", f"pipeline:{run.pipeline}", f"headrace-run:{run.run_id}"]
        tags += [f"{k}:{v}" for k, v in run.tags.items()]  # schedule:NAME for a scheduled run
        token = _FLOW_MAIN.set(flow_main)
        try:
            with prefect.tags(*tags):
                state = flow(**run.params, return_state=True)
            self.flow_run_id = state.state_details.flow_run_id
        finally:
            _FLOW_MAIN.reset(token)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]  # type: ignore[no-any-return]

    def _make_task_runner(self) -> Any:
        if self.task_runner == "dask":
            from prefect_dask import DaskTaskRunner

            if self.dask_address:
                return DaskTaskRunner(address=self.dask_address)
            from ..dask import local_cluster_options

            return DaskTaskRunner(cluster_kwargs=local_cluster_options())
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=self.max_workers)

    def _task(self, name: str) -> Any:
        found = self._tasks.get(name)
        if found is not None:
            return found
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        make_task: Any = task
        self._tasks[name] = made = make_task(
            name=name,
            task_run_name=name,
            cache_policy=NO_CACHE,
            persist_result=False,
            retries=0,
            log_prints=False,
        )(_step_body)
        return made

    def _submit_task(
        self,
        step: str,
        run_name: str,
        payload: Any,
        note: tuple[str, str] | None,
        wait: list[Any],
        outbox: str | None = None,
    ) -> Any:
        assert self._run is not None, "submit() outside session()"
        task = self._task(run_name)
        future = task.submit(step, self._run.pipeline, payload, note, outbox, wait_for=wait)
        self._futures[step] = future
        return future

    def _waits(self, upstream: Sequence[str], allow: bool = False) -> list[Any]:
        from prefect import allow_failure

        futures = [self._futures[u] for u in dict.fromkeys(upstream) if u in self._futures]
        return [allow_failure(f) for f in futures] if allow else futures

    def submit(self, task: StepTask, upstream: Sequence[str]) -> Future[StepResult]:
        """Start a step attempt as a task run named after the step (``step-attempt-N`` on retries)."""
        name = task.step if task.attempt == 1 else f"{task.step}-attempt-{task.attempt}"
        self._attempts[task.step] = task.attempt
        out: Future[StepResult] = Future()
        outbox = None
        if self.task_runner == "threads":
            payload: Any = task
            outbox = f"{task.run_id}/{task.step}/{task.attempt}"
            with _OUTBOX_LOCK:
                _OUTBOX[outbox] = out
        else:
            payload = dumps(task)
        waits = self._waits(upstream)
        prefect_future = self._submit_task(task.step, name, payload, None, waits, outbox)
        prefect_future.add_done_callback(lambda pf: self._resolve(task, pf, out, outbox))
        return out

    def _resolve(
        self, task: StepTask, prefect_future: Any, out: Future[StepResult], outbox: str | None
    ) -> None:
        if outbox is not None:
            with _OUTBOX_LOCK:
                _OUTBOX.pop(outbox, None)  # the body never delivered (it did not run)
        if out.done() and not out.cancelled():  # delivered by the task body
            with self._lock:
                self._states[task.step] = Status.COMPLETED if out.result().ok else Status.FAILED
            return
        try:
            result = prefect_future.result(raise_on_failure=False)
            result = getattr(result, "result", result)  # a StepFailedError carries it
            if not isinstance(result, StepResult):
                raise TypeError(f"the task run ended {prefect_future.state!r}") from (
                    result if isinstance(result, BaseException) else None
                )
        except Exception as exc:
            result = infrastructure_failure(task, "the Prefect task run", exc)
        with self._lock:
            self._states[task.step] = Status.COMPLETED if result.ok else Status.FAILED
        with contextlib.suppress(InvalidStateError):  # the runner gave up on it (timeout)
            out.set_result(result)

    def note_reused(self, step: str, reused_from: str, upstream: Sequence[str]) -> None:
        """Show the step as a Completed task run named "Reused", saying which run it came from."""
        message = f"outputs of {step} reused from run {reused_from}"
        with self._lock:
            self._states[step] = "Reused"
        self._submit_task(step, step, None, ("reused", message), self._waits(upstream))

    def _finish_flow(self, run: RunInfo, status: Any) -> Any:
        """Draw steps that never ran as Skipped, attach the summary, give the flow its state."""
        from prefect.futures import wait
        from prefect.states import Cancelled, Completed, Failed

        for step, ups in run.upstream.items():
            if step not in self._futures:
                why = self._skip_reason(ups)
                self._states[step] = Status.SKIPPED
                self._submit_task(step, step, None, ("skipped", why), self._waits(ups, True))
        wait(list(self._futures.values()))
        summary = partial(
            _send_summary,
            key=artifact_key(run.pipeline, "run-summary"),
            markdown=self._summary(run, status),
            description=f"headrace run {run.run_id}",
        )
        # Sent while Prefect closes the flow run (in this flow run's context); joined by session().
        self._summary_thread = threading.Thread(
            target=contextvars.copy_context().run, args=(summary,), name="headrace-summary"
        )
        self._summary_thread.start()
        failed = [s for s, st in self._states.items() if st == Status.FAILED]
        if status is Status.FAILED:
            return Failed(message=f"{len(failed)} step(s) failed: {', '.join(failed)}")
        if status is Status.CANCELED:
            return Cancelled(message="the headrace run was canceled")
        return Completed(message=f"headrace run {run.run_id} completed")

    def _skip_reason(self, upstream: Sequence[str]) -> str:
        for state, verb in ((Status.FAILED, "failed"), (Status.SKIPPED, "was skipped")):
            bad = [u for u in dict.fromkeys(upstream) if self._states.get(u) == state]
            if bad:
                return f"not run: upstream step {', '.join(bad)} {verb}"
        failed = [s for s, st in self._states.items() if st == Status.FAILED]
        if failed:
            return f"not run: the run stopped after step {', '.join(failed)} failed"
        return "not run: the run stopped before this step could start"

    def _summary(self, run: RunInfo, status: Status) -> str:
        lines = [
            f"# {run.pipeline} — run `{run.run_id}`: **{status.value}**",
            "",
            "| parameter | value |",
            "|---|---|",
            *(f"| {k} | `{v}` |" for k, v in run.params.items()),
            "",
            "| step | state | attempts |",
            "|---|---|---|",
            *(
                f"| {s} | {self._states.get(s, '-')} | {self._attempts.get(s, 0)} |"
                for s in run.upstream
            ),
        ]
        return "\n".join(lines)

    def shutdown(self, cancel: bool) -> None:
        """Nothing to release: the flow run (and its task runner) ended with the session."""
