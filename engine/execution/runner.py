"""The run loop: start ready steps, collect results, retry, skip, record, finish."""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from ..definitions.model import Binding, PipelineDefinition
from ..status import Status
from ..store.artifacts import ArtifactRecord
from ..store.cache_index import CacheIndex, Hit
from ..store.run_writes import finish_step_op, record_attempt_op, update_run_op, update_steps_op
from ..store.statcache import StatCache
from ..store.workspace import Workspace
from .attempts import AttemptRecorder
from .dispatch import Dispatcher, InFlight
from .eager import REUSED_FROM, SOURCE_STEP, EagerPlan
from .executors import Executor, RunInfo, make_observer
from .executors.base import EagerExecutor
from .inputs import changed_inputs, ingredients, input_marks
from .provenance import Provenance, keep_snapshot
from .reuse import Decision, Ingredients, blocker, decide
from .state import RunState
from .step_fields import changed_while_running, finished_fields, reused_fields
from .task import UNCACHED, InputSpec, StepResult, StepTask
from .twins import Twins

EventHandler = Callable[[str, Status, dict[str, Any]], None]


def _output_source(b: Binding) -> dict[str, Any]:
    """Where a pipeline output comes from, as run history records it."""
    if b.source == "output":
        return {"step": b.step, "output": b.name}
    if b.source == "parameter":
        return {"parameter": b.name}
    return {"value": b.value}


POLL = 0.05  # seconds between looks at whether a timed attempt has started running
CANCEL_POLL = 0.5  # seconds between looks at whether `headrace runs cancel` asked to stop


class Runner:
    """One run's loop: start ready steps, collect results, retry, skip, record, finish.

    The pure :class:`RunState` decides readiness, attempts, retries, deadlines and skipping; the
    runner keeps one :class:`InFlight` record per attempt it waits for, and on an eager
    executor a :class:`Dispatcher` says what to send ahead and what to give up.
    """

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
        retries: dict[str, int] = {}
        timeouts: dict[str, float] = {}
        for name, s in defn.steps.items():
            if s.component.retries:
                retries[name] = s.component.retries
            if s.component.timeout is not None:
                timeouts[name] = s.component.timeout
        self.state = RunState(
            self.upstream, continue_on_step_failure, retries=retries, timeouts=timeouts
        )
        self.timed = bool(timeouts)  # some step has a timeout
        self.outputs: dict[str, dict[str, ArtifactRecord]] = {}
        self.flights: dict[str, InFlight] = {}  # step → the attempt the runner waits for
        self.waiting: dict[Future[StepResult], InFlight] = {}  # the same, by future
        # futures as they finish (a done callback), cheaper to wait on than wait(): a 1,000-step
        # chain waits once per step
        self.done: queue.SimpleQueue[Future[StepResult]] = queue.SimpleQueue()
        self.abandoned = False  # a timed-out attempt may still be running somewhere
        self.code_fps: dict[int, str] = {}
        self.store_spec = ws.store.spec()  # one dict for every task: workers look it up by identity
        self.marks: dict[str, dict[str, str]] = {}  # step → its path inputs' stat identities
        self.stat_cache = StatCache(ws.history.path)
        self.recorded: dict[str, Any] = {}  # tags, source, code context (see provenance.py)
        self.provenance: Provenance | None = None
        self.twins = Twins(run_id)  # steps of this run with the same cache key compute once
        self.cancel_checked = time.monotonic()
        self.reports_start = bool(getattr(executor, "reports_start", False))
        self.eager = executor if isinstance(executor, EagerExecutor) else None
        self.dispatch = Dispatcher(self.state, self.upstream) if self.eager is not None else None

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
                **self.recorded,
            },
            [(n, s.component.name) for n, s in self.defn.steps.items()],
        )
        if self.provenance is not None:  # recorded: the snapshot's lease counts from now
            keep_snapshot(self.provenance, self.ws.store, self.run_id)
        self.writer = history.writer()
        self.writer.put(update_run_op, self.run_id, {"started_at": time.time()})
        self.attempts = AttemptRecorder(self.ws.root, self.run_id)
        info = RunInfo(
            self.run_id,
            self.defn.name,
            dict(self.values),
            self.upstream,
            workspace=self.ws.root,
            store=self.ws.store.spec(),
            tags=dict(self.recorded.get("tags") or {}),
        )
        self.observer = make_observer(self.executor, info, self.ws)
        self.cache_index = CacheIndex(history, list(self.defn.steps))
        try:
            status = self.executor.session(info, self._loop)
            self.writer.close()
        except KeyboardInterrupt as exc:  # the daemon's stop says so in the interrupt's text
            self._cancel(str(exc) or "canceled by the user (KeyboardInterrupt)")
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
            self.attempts.close()
        history.update_run(self.run_id, status=status.value, finished_at=time.time())
        self.observer.close(status)  # waits a few seconds at most for the Prefect mirror
        self.ws.store.leases.release(self.run_id)  # every step it used is committed
        return status

    def _loop(self) -> Status:
        while True:
            self._launch_ready()
            if self.dispatch is not None:
                self.dispatch.send_ahead(self._send_one_ahead)
            if not self.flights:
                break
            timeout = self._next_timeout() if self.timed else None
            timeout = CANCEL_POLL if timeout is None else min(timeout, CANCEL_POLL)
            for future in self._finished(timeout):
                flight = self.waiting.pop(future)
                del self.flights[flight.step]
                result = self._result(flight)
                if result.extra.get(REUSED_FROM):
                    self._reused_ahead(flight, result)
                else:
                    self._handle(flight, result)
            if self.timed:
                self._expire_timeouts()
            why = self._cancel_request()
            if why is not None:  # `headrace runs cancel` from another process
                self.abandoned = True
                self._cancel(why)
                return Status.CANCELED
        return self.state.run_status()

    def _finished(self, timeout: float) -> list[Future[StepResult]]:
        """The awaited futures that finish within ``timeout`` seconds (all that have, once one
        has), in the order they finished; futures no longer awaited (a timed-out attempt's,
        one discarded) are dropped."""
        try:
            finished = [self.done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                finished.append(self.done.get_nowait())
            except queue.Empty:
                break
        return [f for f in finished if f in self.waiting]

    def _cancel_request(self) -> str | None:
        """Why someone asked to cancel this run (looked up every CANCEL_POLL seconds)."""
        now = time.monotonic()
        if now - self.cancel_checked < CANCEL_POLL:
            return None
        self.cancel_checked = now
        return self.ws.history.cancel_requested(self.run_id)

    def _launch_ready(self) -> None:
        while ready := self.state.take_ready():
            now = time.time()
            started = []
            for step in ready:
                ahead = self.dispatch.adopt(step) if self.dispatch is not None else None
                decision = self._decide(step, ahead.plan if ahead is not None else None)
                if decision.reuse:
                    if ahead is not None:  # decided here, as on every executor
                        self._discard(ahead, *self._dropped(step))
                    self._reuse(step, decision, now)
                    continue
                if ahead is None:
                    comp = self.defn.steps[step].component
                    cacheable = comp.allow_reuse and comp.deterministic
                    twin = self.twins.on_launch(step, decision, cacheable)
                    if twin is not None:  # its twin of this run finished: served from it
                        self._reuse(step, twin, now)
                        continue
                    if not self.twins.parked(step):
                        self._submit(step, decision, now)
                else:  # sent ahead: it runs (or is reused) on the cluster already
                    self.state.launch(step)
                    ahead.submitted = ahead.started_at = now
                    ahead.decision = decision
                    self._wait_for(ahead)
                started.append((step, {"status": Status.RUNNING.value, "started_at": now}))
            if started:
                self.writer.put(update_steps_op, self.run_id, started)

    def _decide(self, step: str, plan: EagerPlan | None = None) -> Decision:
        s = self.defn.steps[step]
        if plan is None:
            opts = self.ws.store.storage_options
            self.marks[step] = input_marks(s, self.values)  # before the fingerprints
            ingr = ingredients(s, self.values, self.outputs, self.stat_cache, opts, self.code_fps)
        else:  # the ingredients it was sent with, completed as its worker completes them
            ingr = self._completed(plan)
        comp = s.component
        hit: Hit | None = None
        present, previous = False, None
        if blocker(comp, ingr, self.regenerate_outputs) is None and ingr.key is not None:
            hit = self.cache_index.get(ingr.key)
            if hit is None:
                previous = self.cache_index.previous(self.defn.name, step)
            else:
                for _, rec in hit.outputs:  # before looking: gc keeps what a run leased
                    self.ws.store.lease(self.run_id, rec)
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
        fields = reused_fields(d, now)
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
        if self.dispatch is not None:  # dependants waiting on it and on steps in flight can go
            self.dispatch.moved(step)
        self.executor.note_reused(step, d.reused_from, self.upstream[step])
        info = {"reused": True, "reused_from": d.reused_from, "source_step": d.source_step}
        self._emit(step, Status.COMPLETED, info)

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
            self.run_id,
            step,
            s.component,
            tuple(inputs),
            self.store_spec,
            attempt,
            log_spool=self.attempts.spool(step, attempt),
            regenerate_outputs=self.regenerate_outputs,
        )

    def _submit(self, step: str, decision: Decision, started_at: float) -> None:
        """Hand the step's next attempt to the executor and wait for it.

        Always the executor's, never this thread (the caller's): there a step could swallow
        Ctrl-C, hide a cancel until it returns, or leave its context variables, signal
        handlers and decimal context behind (see ``test_steps_run_in_the_pool.py``).
        """
        attempt = self.state.launch(step)
        future = self.executor.submit(self._task(step, attempt), self.upstream[step])
        timeout = self.defn.steps[step].component.timeout
        flight = InFlight(step, attempt, future, timeout, time.time(), started_at, None, decision)
        if self.dispatch is not None:
            self.dispatch.moved(step)
        self._wait_for(flight)

    def _wait_for(self, flight: InFlight) -> None:
        """Wait for ``flight``, launched in the state; its timeout counts from when it starts
        running (from ``flight.submitted`` on executors that cannot tell)."""
        self.flights[flight.step] = self.waiting[flight.future] = flight
        flight.future.add_done_callback(self.done.put)
        if flight.timeout is not None and not self.reports_start:
            self.state.attempt_started(flight.step, flight.submitted)
        self._emit(flight.step, Status.RUNNING, {"attempt": flight.attempt})

    def _send_one_ahead(self, step: str, after: tuple[str, ...]) -> InFlight:
        """Send ``step`` to run after the attempts of ``after`` (the Dispatcher's ``send``)."""
        assert self.eager is not None and self.dispatch is not None
        s = self.defn.steps[step]
        opts = self.ws.store.storage_options
        self.marks[step] = input_marks(s, self.values)  # before the fingerprints
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
        flights, ahead = self.flights, self.dispatch.ahead
        futures = [(flights.get(u) or ahead[u]).future for u in after]  # running or sent ahead
        future = self.eager.submit_eager(self._task(step, 1), plan, futures, self.upstream[step])
        now = time.time()
        return InFlight(step, 1, future, comp.timeout, now, now, plan)

    def _dropped(self, step: str) -> list[InFlight]:
        """What was sent ahead on ``step``'s attempt, now given up (transitively)."""
        return self.dispatch.drop(step) if self.dispatch is not None else []

    def _discard(self, *flights: InFlight) -> None:
        """Tell the executor the runner will not adopt these attempts sent ahead."""
        if flights:
            assert self.eager is not None
            for flight in flights:
                self.eager.discard(flight.future)

    def _reused_ahead(self, flight: InFlight, result: StepResult) -> None:
        """A step sent ahead found its cache entry where it ran (the runner had found none
        when it adopted it, so only if the outputs' existence changed in between)."""
        d = flight.decision
        assert d is not None
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
        self._reuse(flight.step, reuse, flight.started_at)

    def _handle(self, flight: InFlight, result: StepResult) -> None:
        step = flight.step
        self.writer.put(record_attempt_op, *self.attempts.record(result))
        if result.ok:
            self.outputs[step] = dict(result.outputs)
            cached = self._finish(flight, Status.COMPLETED, result)
            self.state.complete(step)
            if cached:  # twins waiting for it reuse it, as a later run would
                for twin, served in self.twins.on_success(step, result.outputs):
                    self._reuse(twin, served, time.time())
            else:
                for twin, decision in self.twins.release(step):  # they run after all
                    self._submit(twin, decision, time.time())
            return
        self._discard(*self._dropped(step))
        if self.state.attempt_failed(step):
            self._emit(
                step, Status.RUNNING, {"retry": flight.attempt + 1, "error": result.error}, result
            )
            assert flight.decision is not None
            self._submit(step, flight.decision, flight.started_at)
            return
        self._finish(flight, Status.FAILED, result)
        for twin, decision in self.twins.release(step):  # they run after all
            self._submit(twin, decision, time.time())
        skipped = self.state.fail(step)
        if self.state.stopped and self.dispatch is not None:
            self._discard(*self.dispatch.drop_all())
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

    def _finish(self, flight: InFlight, status: Status, result: StepResult) -> bool:
        step, d = flight.step, flight.decision
        assert d is not None
        fields = finished_fields(d, status, flight.attempt, flight.started_at, result)
        comp = self.defn.steps[step].component
        cacheable = result.ok and d.key is not None and comp.allow_reuse and comp.deterministic
        marks = self.marks.get(step, {})
        moved = changed_inputs(self.defn.steps[step], self.values, marks) if cacheable else []
        if moved:  # the key describes content the step may not have read
            cacheable = False
            fields["reason"] = f"{d.reason}; not cached: {changed_while_running(moved)}"
        elif cacheable and result.extra.get(UNCACHED):  # the step said so (failed items)
            cacheable = False
            fields["reason"] = f"{d.reason}; not cached: {result.extra[UNCACHED]}"
        self.writer.put(
            finish_step_op,
            self.run_id,
            step,
            fields,
            result.outputs,
            result.metrics,
            d.key if cacheable else None,
        )
        self._emit(
            step, status, {"duration": fields["duration"], "error": fields.get("error")}, result
        )
        return cacheable

    def _result(self, flight: InFlight) -> StepResult:
        try:
            return flight.future.result()
        except BaseException as exc:  # the worker process died, the pool broke, ...
            return StepResult(
                flight.step,
                flight.attempt,
                False,
                flight.started_at,
                time.time(),
                error_type=type(exc).__name__,
                error=f"the worker running the step died ({exc or 'no message'}); "
                "it may have run out of memory or crashed in native code",
            )

    def _observe_starts(self) -> bool:
        """Tell the state which timed attempts have started running (executors that report it);
        returns whether some have not yet."""
        awaiting = self.state.awaiting_start
        if not awaiting:
            return False
        for step in list(awaiting):
            future = self.flights[step].future
            started = getattr(future, "headrace_started_at", None)
            if started is None and future.running():  # a process pool marks it running
                started = time.time()
            if started is not None:
                self.state.attempt_started(step, started)
        return bool(awaiting)

    def _next_timeout(self) -> float | None:
        """How long to wait for results before a deadline passes (None: no timed attempt)."""
        unstarted = self._observe_starts()
        timeout = self.state.next_deadline(time.time())
        if unstarted:  # look again soon whether they have started
            timeout = POLL if timeout is None else min(timeout, POLL)
        return timeout

    def _expire_timeouts(self) -> None:
        if not self.state.timing:
            return
        now = time.time()
        self._observe_starts()
        for step in self.state.expired(now):
            flight = self.flights.pop(step)
            del self.waiting[flight.future]
            flight.future.cancel()
            self.abandoned = True
            result = StepResult(
                step,
                flight.attempt,
                False,
                flight.started_at,
                now,
                error_type="TimeoutError",
                error=f"the step ran longer than its timeout of {flight.timeout}s",
            )
            self._handle(flight, result)

    def _cancel(self, why: str, run_status: Status = Status.CANCELED) -> None:
        with contextlib.suppress(Exception):  # the run is stopping: keep what finished
            self.writer.close()
        in_flight = {f.step: f for f in self.flights.values()}
        canceled = self.state.cancel()
        now = time.time()
        self._record_unfinished(why, now)
        self.ws.history.update_steps(
            self.run_id,
            [(s, _canceled_fields(in_flight.get(s), why, now)) for s in canceled],
        )
        self.ws.history.update_run(self.run_id, status=run_status.value, finished_at=now, error=why)
        for s in canceled:
            self._emit(s, Status.CANCELED, {})
        self.observer.close(run_status, why)

    def _record_unfinished(self, why: str, now: float) -> None:
        """Record the attempts in flight as canceled, with what they printed so far."""
        with contextlib.suppress(Exception), self.ws.history.transaction() as c:
            for f in self.flights.values():
                cut = StepResult(f.step, f.attempt, False, f.started_at, now, error_type="Canceled")
                record_attempt_op(c, *self.attempts.record(replace(cut, error=why)))

    def _emit(
        self, step: str, status: Status, info: dict[str, Any], result: StepResult | None = None
    ) -> None:
        self.observer.event(step, status, info, result)
        if self.on_event is not None:
            self.on_event(step, status, info)


def _canceled_fields(flight: InFlight | None, why: str, now: float) -> dict[str, Any]:
    """The columns of a step canceled at ``now``; one in flight counts its attempt."""
    fields: dict[str, Any] = {"status": Status.CANCELED.value, "finished_at": now}
    if flight is not None:
        fields.update(
            attempts=flight.attempt,
            started_at=flight.started_at,
            duration=now - flight.submitted,
            error=f"Canceled: {why}",
        )
    return fields
