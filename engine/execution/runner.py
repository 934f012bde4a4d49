"""``submit()``: drive a pipeline run from ready steps to a final status, recording everything."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..definitions.model import Binding, PipelineDefinition
from ..status import Status
from ..store.artifacts import ArtifactRecord
from ..store.cache_index import CacheIndex, Hit
from ..store.history import finish_step_op, update_run_op, update_steps_op
from ..store.statcache import StatCache
from ..store.workspace import Workspace
from .eager import REUSED_FROM, SOURCE_STEP, EagerPlan
from .executors import Executor, RunInfo, make_executor
from .executors.base import EagerExecutor
from .inputs import ingredients
from .reuse import Decision, Ingredients, blocker, decide
from .state import RunState
from .task import InputSpec, StepResult, StepTask

if TYPE_CHECKING:
    from ..definitions.pipeline import Pipeline
    from ..store.runs import PipelineRun

EventHandler = Callable[[str, Status, dict[str, Any]], None]


def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxxxx``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def submit(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    regenerate_outputs: bool = False,
    executor: str | Executor = "local",
    max_workers: int | None = None,
    continue_on_step_failure: bool = False,
    experiment: str | None = None,
    workspace: str | os.PathLike[str] | Workspace | None = None,
    run_id: str | None = None,
    on_event: EventHandler | None = None,
) -> PipelineRun:
    """Run ``pipeline`` and wait for it to finish.

    Args:
        pipeline: the ``@pipeline`` to run.
        params: PipelineParameter values (strings are converted to the declared types).
        regenerate_outputs: run every step even when earlier outputs could be reused.
        executor: "local" (threads), "local-processes", or an Executor.
        max_workers: how many steps may run at once.
        continue_on_step_failure: let independent branches finish after a step fails.
        experiment: a label to group runs by (defaults to the pipeline name).
        workspace: the workspace folder or object (default ``$HEADRACE_HOME`` or ``./.headrace``).
        run_id: use this id instead of a new one (the scheduler derives ids from fire times).
        on_event: called as ``on_event(step, status, info)`` whenever a step changes status.

    Returns:
        The finished :class:`PipelineRun` (Completed, Failed or Canceled).

    Raises:
        DefinitionError: the pipeline is invalid.
        ParameterError: a parameter is unknown, missing or of the wrong type.
        KeyboardInterrupt: after recording the run as Canceled.
    """
    from ..store.runs import PipelineRun

    defn = pipeline.definition
    values = defn.bind_params(params)
    ws = workspace if isinstance(workspace, Workspace) else _open_workspace(workspace)
    runner = Runner(
        defn,
        values,
        ws,
        make_executor(executor, max_workers),
        run_id or new_run_id(),
        regenerate_outputs=regenerate_outputs,
        continue_on_step_failure=continue_on_step_failure,
        experiment=experiment,
        on_event=on_event,
    )
    runner.run()
    return PipelineRun(ws, runner.run_id)


_workspaces: dict[str, Workspace] = {}
_workspaces_lock = threading.Lock()


def _open_workspace(path: str | os.PathLike[str] | None) -> Workspace:
    """One Workspace per folder per process: a loop of submits must not pile up connections."""
    from ..store.workspace import resolve_root

    key = str(resolve_root(path))
    with _workspaces_lock:
        ws = _workspaces.get(key)
        if ws is None or not (ws.root / "headrace.db").exists():
            ws = _workspaces[key] = Workspace(key)
        return ws


def _output_source(b: Binding) -> dict[str, Any]:
    """Where a pipeline output comes from, as run history records it."""
    if b.source == "output":
        return {"step": b.step, "output": b.name}
    if b.source == "parameter":
        return {"parameter": b.name}
    return {"value": b.value}


@dataclass
class _Attempt:
    step: str
    attempt: int
    timeout: float | None
    submitted: float


@dataclass(frozen=True)
class _Ahead:
    """A step sent ahead (eager.py), waiting to be adopted when its upstream steps finish."""

    future: Future[StepResult]
    plan: EagerPlan


class Runner:
    """One run's loop: start ready steps, collect results, retry, skip, record, finish."""

    def __init__(
        self,
        defn: PipelineDefinition,
        values: dict[str, Any],
        ws: Workspace,
        executor: Executor,
        run_id: str,
        *,
        regenerate_outputs: bool = False,
        continue_on_step_failure: bool = False,
        experiment: str | None = None,
        on_event: EventHandler | None = None,
    ):
        self.defn, self.values, self.ws, self.executor = defn, values, ws, executor
        self.run_id = run_id
        self.regenerate_outputs = regenerate_outputs
        self.experiment = experiment or defn.name
        self.on_event = on_event
        self.upstream = {name: s.upstream for name, s in defn.steps.items()}
        self.state = RunState(self.upstream, continue_on_step_failure)
        self.outputs: dict[str, dict[str, ArtifactRecord]] = {}
        self.running: dict[Future[StepResult], _Attempt] = {}
        self.decisions: dict[str, Decision] = {}
        self.abandoned = False  # a timed-out attempt may still be running somewhere
        self.code_fps: dict[int, str] = {}
        self.stat_cache = StatCache(ws.history.path)
        self.started: dict[str, float] = {}
        self.inflight: dict[str, Future[StepResult]] = {}  # step → attempt running or sent ahead
        self.ahead: dict[str, _Ahead] = {}
        self.eager = isinstance(executor, EagerExecutor)
        self.sent: list[str] = []  # steps put in flight since the last eager pass

    def run(self) -> Status:
        """Record the run, execute it in the executor's session, and record the outcome."""
        history = self.ws.history
        history.reap_dead_runs()
        history.create_run(
            {
                "id": self.run_id,
                "pipeline": self.defn.name,
                "experiment": self.experiment,
                "status": Status.RUNNING.value,
                "params": self.values,
                "executor": self.executor.name,
                "regenerate_outputs": self.regenerate_outputs,
                "created_at": time.time(),
                "pid": os.getpid(),
                "outputs": {k: _output_source(b) for k, b in self.defn.outputs.items()},
            },
            [(n, s.component.name) for n, s in self.defn.steps.items()],
        )
        self.writer = history.writer()
        self.writer.put(update_run_op, self.run_id, {"started_at": time.time()})
        info = RunInfo(
            self.run_id,
            self.defn.name,
            dict(self.values),
            self.upstream,
            workspace=self.ws.root,
            store=self.ws.store.spec(),
        )
        self.cache_index = CacheIndex(history, list(self.defn.steps))
        try:
            status = self.executor.session(info, self._loop)
            self.writer.close()
        except KeyboardInterrupt:
            self._cancel("canceled by the user (KeyboardInterrupt)")
            raise
        except BaseException as exc:
            self._cancel(
                f"headrace failed while running the pipeline: {type(exc).__name__}: {exc}",
                Status.FAILED,
            )
            raise
        finally:
            self.executor.shutdown(cancel=self.state.stopped or self.abandoned)
            self.stat_cache.close()
        history.update_run(self.run_id, status=status.value, finished_at=time.time())
        return status

    def _loop(self) -> Status:
        while True:
            self._launch_ready()
            self._send_ahead()
            if not self.running:
                break
            done, _ = wait(
                list(self.running), timeout=self._next_timeout(), return_when=FIRST_COMPLETED
            )
            for future in done:
                attempt = self.running.pop(future)
                self.inflight.pop(attempt.step, None)
                result = self._result(attempt, future)
                if result.extra.get(REUSED_FROM):
                    self._reused_ahead(attempt.step, result)
                else:
                    self._handle(attempt, result)
            self._expire_timeouts()
        return self.state.run_status()

    def _launch_ready(self) -> None:
        while ready := self.state.take_ready():
            now = time.time()
            started = []
            for step in ready:
                ahead = self.ahead.pop(step, None)
                decision = self._decide(step, ahead)
                if decision.reuse:
                    if ahead is not None:  # decided here, as on every executor
                        self._discard(step, ahead)
                    self._reuse(step, decision, now)
                    continue
                self.decisions[step] = decision
                self.started[step] = now
                if ahead is None:
                    self._submit(step, 1)
                else:  # sent ahead: it runs (or is reused) on the cluster already
                    self._adopt(step, ahead.future, now)
                started.append((step, {"status": Status.RUNNING.value, "started_at": now}))
            if started:
                self.writer.put(update_steps_op, self.run_id, started)

    def _decide(self, step: str, ahead: _Ahead | None = None) -> Decision:
        s = self.defn.steps[step]
        if ahead is None:
            opts = self.ws.store.storage_options
            ingr = ingredients(s, self.values, self.outputs, self.stat_cache, opts, self.code_fps)
        else:  # the ingredients it was sent with, completed as its worker completes them
            ingr = self._completed(ahead.plan)
        comp = s.component
        hit: Hit | None = None
        present, previous = False, None
        if blocker(comp, ingr, self.regenerate_outputs) is None and ingr.key is not None:
            hit = self.cache_index.get(ingr.key)
            if hit is None:
                previous = self.cache_index.previous(self.defn.name, step)
            else:
                present = all(self.ws.store.exists(rec) for _, rec in hit.outputs)
        return decide(
            comp,
            ingr,
            regenerate_outputs=self.regenerate_outputs,
            hit=hit,
            outputs_present=present,
            previous=previous,
        )

    def _reuse(self, step: str, d: Decision, now: float) -> None:
        self.outputs[step] = dict(d.outputs)
        fields = {
            "status": Status.COMPLETED.value,
            "reused": 1,
            "reused_from": d.reused_from,
            "reason": d.reason,
            "started_at": now,
            "finished_at": now,
            "duration": 0.0,
            "attempts": 0,
            "cache_key": d.key,
            "code_fp": d.ingredients.code,
            "inputs": d.ingredients.to_json(),
        }
        assert d.reused_from is not None and d.source_step is not None
        self.writer.put(
            finish_step_op,
            self.run_id,
            step,
            fields,
            d.outputs,
            (),
            None,
            (d.reused_from, d.source_step),
        )
        self.state.complete(step)
        self.sent.append(step)  # dependants waiting on it and on steps in flight can go ahead
        self.executor.note_reused(step, d.reused_from, self.upstream[step])
        self._emit(step, Status.COMPLETED, {"reused": True, "reused_from": d.reused_from})

    def _completed(self, plan: EagerPlan) -> Ingredients:
        fed = {port: self.outputs[s][out].fingerprint for port, s, out in plan.pending}
        return replace(plan.ingredients, upstream={**plan.ingredients.upstream, **fed})

    def _task(self, step: str, attempt: int) -> StepTask:
        """The attempt's task; inputs from steps still in flight are left for the worker."""
        s = self.defn.steps[step]
        inputs = []
        for port in s.component.inputs:
            b = s.bindings[port.name]
            if b.source == "output":
                rec = self.outputs[b.step][b.name] if b.step in self.outputs else None
                inputs.append(InputSpec(port.name, port.annotation, record=rec))
            else:
                value = self.values[b.name] if b.source == "parameter" else b.value
                inputs.append(InputSpec(port.name, port.annotation, value=value))
        return StepTask(
            self.run_id, step, s.component, tuple(inputs), self.ws.store.spec(), attempt
        )

    def _submit(self, step: str, attempt: int) -> None:
        future = self.executor.submit(self._task(step, attempt), self.upstream[step])
        self.inflight[step] = future
        self.sent.append(step)
        self._adopt(step, future, time.time(), attempt)

    def _adopt(self, step: str, future: Future[StepResult], now: float, attempt: int = 1) -> None:
        """Wait for ``future`` as the step's attempt; its timeout counts from ``now``."""
        self.running[future] = _Attempt(step, attempt, self.defn.steps[step].component.timeout, now)
        self.state.mark_running(step)
        self._emit(step, Status.RUNNING, {"attempt": attempt})

    def _send_ahead(self) -> None:
        """Send the dependants of steps in flight whose upstream steps are all in flight or done
        (eager executors only), so a chain runs without a round trip per step."""
        if not self.eager:
            self.sent.clear()
            return
        queue = deque(self.sent)
        self.sent.clear()
        while queue and not self.state.stopped:
            for d in self.state.down[queue.popleft()]:
                if d in self.inflight or self.state.status[d] is not Status.NOT_STARTED:
                    continue
                ups = dict.fromkeys(self.upstream[d])
                after = tuple(u for u in ups if u not in self.outputs)
                if after and all(u in self.inflight for u in after):
                    self._send_one_ahead(d, after)
                    queue.append(d)

    def _send_one_ahead(self, step: str, after: tuple[str, ...]) -> None:
        assert isinstance(self.executor, EagerExecutor)
        s = self.defn.steps[step]
        opts = self.ws.store.storage_options
        ingr = ingredients(
            s, self.values, self.outputs, self.stat_cache, opts, self.code_fps, ahead=True
        )
        comp = s.component
        reusable = not self.regenerate_outputs and comp.allow_reuse and comp.deterministic
        candidates = self.cache_index.for_step(step) if reusable and not ingr.unhashable else {}
        pending = tuple(
            (port, b.step, b.name)
            for port, b in s.bindings.items()
            if b.source == "output" and b.step in after
        )
        names = tuple(p.name for p in comp.outputs)
        plan = EagerPlan(ingr, pending, after, candidates or None, names)
        future = self.executor.submit_eager(
            self._task(step, 1), plan, [self.inflight[u] for u in after], self.upstream[step]
        )
        self.ahead[step] = _Ahead(future, plan)
        self.inflight[step] = future

    def _drop_ahead(self, step: str | None) -> None:
        """Give up the steps sent ahead on ``step``'s attempt, and those sent ahead on them
        (every step sent ahead when ``step`` is None)."""
        if step is None:
            for d in list(self.ahead):
                self._discard(d, self.ahead.pop(d), dependants=False)
            return
        stack = [step]
        while stack:
            for d in self.state.down[stack.pop()]:
                ahead = self.ahead.pop(d, None)
                if ahead is not None:
                    self._discard(d, ahead, dependants=False)
                    stack.append(d)

    def _discard(self, step: str, ahead: _Ahead, dependants: bool = True) -> None:
        """Give up a step sent ahead (and, with ``dependants``, what was sent ahead on it)."""
        self.inflight.pop(step, None)
        assert isinstance(self.executor, EagerExecutor)
        self.executor.discard(ahead.future)
        if dependants:
            self._drop_ahead(step)

    def _reused_ahead(self, step: str, result: StepResult) -> None:
        """A step sent ahead found its cache entry where it ran (the runner had found none
        when it adopted it, so only if the outputs' existence changed in between)."""
        d = self.decisions[step]
        run_id = result.extra[REUSED_FROM]
        reuse = Decision(
            True,
            f"reused from run {run_id}",
            d.key,
            d.ingredients,
            run_id,
            result.outputs,
            result.extra[SOURCE_STEP],
        )
        self._reuse(step, reuse, self.started[step])

    def _handle(self, attempt: _Attempt, result: StepResult) -> None:
        step = attempt.step
        if result.ok:
            self.outputs[step] = dict(result.outputs)
            self._finish(step, Status.COMPLETED, result, attempt.attempt)
            self.state.complete(step)
            return
        if self.ahead:
            self._drop_ahead(step)
        if attempt.attempt <= self.defn.steps[step].component.retries and not self.state.stopped:
            self._emit(step, Status.RUNNING, {"retry": attempt.attempt + 1, "error": result.error})
            self._submit(step, attempt.attempt + 1)
            return
        self._finish(step, Status.FAILED, result, attempt.attempt)
        skipped = self.state.fail(step)
        if self.state.stopped and self.ahead:
            self._drop_ahead(None)
        if skipped:
            self.writer.put(
                update_steps_op,
                self.run_id,
                [
                    (s, {"status": Status.SKIPPED.value, "reason": f"skipped: {step} failed"})
                    for s in skipped
                ],
            )
            for s in skipped:
                self._emit(s, Status.SKIPPED, {})

    def _finish(self, step: str, status: Status, result: StepResult, attempts: int) -> None:
        started = self.started.get(step, result.started_at)
        d = self.decisions[step]
        fields: dict[str, Any] = {
            "status": status.value,
            "attempts": attempts,
            "started_at": started,
            "finished_at": result.finished_at,
            "duration": result.finished_at - result.started_at,
            "reason": d.reason,
            "cache_key": d.key,
            "code_fp": d.ingredients.code,
            "inputs": d.ingredients.to_json(),
        }
        if not result.ok:
            fields["error"] = f"{result.error_type}: {result.error}"
            fields["traceback"] = result.traceback
        comp = self.defn.steps[step].component
        cacheable = result.ok and d.key is not None and comp.allow_reuse and comp.deterministic
        self.writer.put(
            finish_step_op,
            self.run_id,
            step,
            fields,
            result.outputs,
            result.metrics,
            d.key if cacheable else None,
        )
        self._emit(step, status, {"duration": fields["duration"], "error": fields.get("error")})

    def _result(self, attempt: _Attempt, future: Future[StepResult]) -> StepResult:
        try:
            return future.result()
        except BaseException as exc:  # the worker process died, the pool broke, ...
            now = time.time()
            return StepResult(
                attempt.step,
                attempt.attempt,
                False,
                self.started.get(attempt.step, now),
                now,
                error_type=type(exc).__name__,
                error=f"the worker running the step died ({exc or 'no message'}); "
                "it may have run out of memory or crashed in native code",
            )

    def _deadline(self, future: Future[StepResult], attempt: _Attempt) -> float | None:
        """When the attempt times out: counted from when it started running, not when queued."""
        if attempt.timeout is None:
            return None
        started = getattr(future, "headrace_started_at", None)
        if started is None and future.running():  # a process pool marks it running
            started = future.headrace_started_at = time.time()  # type: ignore[attr-defined]
        if started is None and not getattr(self.executor, "reports_start", False):
            started = attempt.submitted  # executors that cannot tell: count from submission
        return None if started is None else started + attempt.timeout

    def _next_timeout(self) -> float | None:
        waits = []
        for future, attempt in self.running.items():
            if attempt.timeout is None:
                continue
            deadline = self._deadline(future, attempt)
            waits.append(0.05 if deadline is None else max(0.0, deadline - time.time()))
        return min(waits) if waits else None

    def _expire_timeouts(self) -> None:
        now = time.time()
        for future, attempt in list(self.running.items()):
            deadline = self._deadline(future, attempt)
            if deadline is None or deadline > now:
                continue
            del self.running[future]
            self.inflight.pop(attempt.step, None)
            future.cancel()
            self.abandoned = True
            limit = self.defn.steps[attempt.step].component.timeout
            result = StepResult(
                attempt.step,
                attempt.attempt,
                False,
                self.started[attempt.step],
                now,
                error_type="TimeoutError",
                error=f"the step ran longer than its timeout of {limit}s",
            )
            self._handle(attempt, result)

    def _cancel(self, why: str, run_status: Status = Status.CANCELED) -> None:
        with contextlib.suppress(Exception):  # the run is stopping: keep what finished
            self.writer.close()
        canceled = self.state.cancel()
        now = time.time()
        self.ws.history.update_steps(
            self.run_id,
            [(s, {"status": Status.CANCELED.value, "finished_at": now}) for s in canceled],
        )
        self.ws.history.update_run(self.run_id, status=run_status.value, finished_at=now, error=why)
        for s in canceled:
            self._emit(s, Status.CANCELED, {})

    def _emit(self, step: str, status: Status, info: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(step, status, info)
