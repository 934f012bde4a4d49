"""``Schedule``: a named recurrence, cron or data-change trigger stored in the workspace."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headrace.engine.errors import did_you_mean
from headrace.engine.store.workspace import Workspace
from headrace.engine.types import PATHS
from headrace.scheduler.errors import ScheduleError, SchedulerError, in_flags
from headrace.scheduler.recurrence import Cron, Recurrence, parse_every, schedule_from_dict
from headrace.scheduler.source import TriggerSpec, open_source
from headrace.scheduler.store import DONE, RUNNING, Firing, ScheduleRow, SchedulerStore
from headrace.scheduler.validate import (
    check_create,
    check_executor,
    check_name_and_policies,
    parameter_kind,
)

if TYPE_CHECKING:
    from headrace.engine import Pipeline, PipelineRun


def open_workspace(workspace: str | os.PathLike[str] | Workspace | None) -> Workspace:
    """Return ``workspace`` as a ``Workspace`` (a folder, an object, or the default)."""
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def run_id_for(name: str, fire_time: datetime, precise: bool = False) -> str:
    """The deterministic run id of a firing: ``sched-NAME-YYYYmmddTHHMMSSZ``.

    Args:
        name: The schedule's name.
        fire_time: When it was due.
        precise: Add milliseconds (triggers and manual runs, which can fire within a second).
    """
    utc = fire_time.astimezone(UTC)
    stamp = utc.strftime("%Y%m%dT%H%M%S") + (f".{utc.microsecond // 1000:03d}" if precise else "")
    return f"sched-{name}-{stamp}Z"


@dataclass(frozen=True)
class Schedule:
    """A stored schedule: which pipeline, when (timing or trigger), with what parameters.

    Attributes:
        name: Unique name in the workspace (letters, digits, ``_.-``).
        pipeline: ``FILE.py[:PIPELINE]`` with an absolute file path.
        timing: The ``Recurrence`` or ``Cron``, for time schedules.
        trigger: The ``TriggerSpec``, for data-change triggers.
        params: Parameter values as text (``--param k=v``).
        catch_up: After downtime: "none", "latest" or "all".
        overlap: When the previous run still goes: "skip", "queue" or "allow".
        enabled: Whether the daemon fires it.
        created_at: Epoch seconds.
        executor: What its runs execute on: "local", "local-processes", "dask" or "prefect".
        dask_address: The Dask scheduler of ``executor="dask"`` (None: a LocalCluster per run).
        pipeline_name: The pipeline's ``name=`` (its runs are recorded under it).
    """

    name: str
    pipeline: str
    timing: Recurrence | Cron | None = None
    trigger: TriggerSpec | None = None
    params: dict[str, str] = field(default_factory=dict)
    catch_up: str = "latest"
    overlap: str = "skip"
    enabled: bool = True
    created_at: float = 0.0
    executor: str = "local"
    dask_address: str | None = None
    pipeline_name: str | None = None

    @property
    def kind(self) -> str:
        """ "cron", "recurrence" or "trigger"."""
        return (
            "trigger" if self.trigger else "cron" if isinstance(self.timing, Cron) else "recurrence"
        )

    def describe(self) -> str:
        """Return a human description of when it fires."""
        if self.trigger is not None:
            return self.trigger.describe()
        assert self.timing is not None
        return self.timing.describe()

    @classmethod
    def from_row(cls, row: ScheduleRow) -> Schedule:
        """Build a schedule from its stored row."""
        spec = json.loads(row.spec)
        trigger = TriggerSpec.from_dict(spec) if row.kind == "trigger" else None
        timing = None if trigger else schedule_from_dict(spec)
        options = json.loads(row.options or "{}")
        return cls(
            row.name,
            row.pipeline,
            timing,
            trigger,
            json.loads(row.params),
            row.catch_up,
            row.overlap,
            row.enabled,
            row.created_at,
            options.get("executor") or "local",
            options.get("dask_address"),
            options.get("pipeline_name"),
        )

    @classmethod
    def create(
        cls,
        name: str,
        pipeline: str,
        *,
        cron: str | None = None,
        timezone: str = "UTC",
        every: str | None = None,
        at: str | None = None,
        week_days: str | None = None,
        start_time: datetime | str | None = None,
        on_change: str | None = None,
        glob: str = "*",
        poll: str | float = "30s",
        settle: str | float | None = None,
        data_path_param: str | None = None,
        storage_options: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        catch_up: str = "latest",
        overlap: str = "skip",
        executor: str = "local",
        dask_address: str | None = None,
        workspace: str | os.PathLike[str] | Workspace | None = None,
        now: float | None = None,
    ) -> Schedule:
        """Validate and store a new schedule (exactly one of ``cron``, ``every``, ``on_change``).

        Args:
            name: Unique schedule name.
            pipeline: ``FILE.py[:PIPELINE]``.
            cron: A cron expression.
            timezone: IANA time zone of the cron or recurrence wall times.
            every: A recurrence such as "1d", "2h", "1w" (see ``parse_every``).
            at: Times of the day "HH:MM[,HH:MM]" for ``every``.
            week_days: Days such as "Mon,Fri" for weekly ``every``.
            start_time: When ``every`` starts: the first run and the anchor of its intervals
                (a datetime, ISO 8601 text, or "now"); naive means wall time in
                ``timezone``. A past start fires at the next time computed from it, a future
                one first at the start, "now" at once. With ``cron``: no fire before it.
                Without it, ``every`` counts from 1970-01-01 00:00 in ``timezone``.
            on_change: A local folder or fsspec URL to watch.
            glob: Which files count (file name, or relative path when it has a "/").
            poll: Polling interval ("30s", "5m" or seconds).
            settle: How long a file must stay unchanged before it counts (default 0.3 s for
                a local folder, whose files also wait for their writer to close them; 3 s
                for a polled URL).
            data_path_param: The parameter receiving the changed files.
            storage_options: fsspec options for a remote ``on_change`` URL.
            params: Parameter values; relative paths given to ``Path``/``list[Path]``
                parameters are made absolute now, so the daemon finds them wherever it runs.
            catch_up: "none", "latest" or "all".
            overlap: "skip", "queue" or "allow".
            executor: "local", "local-processes", "dask" or "prefect".
            dask_address: The Dask scheduler for ``executor="dask"`` (default: a
                LocalCluster per run).
            workspace: The workspace (folder or object; default ``$HEADRACE_HOME``/``.headrace``).
            now: Creation time (epoch seconds; default the clock) -- time schedules fire after
                it (a start_time of "now" fires at it).

        Raises:
            SchedulerError: Name taken or malformed, unknown pipeline, bad parameters,
                missing path, wrong data parameter, unknown policy.
            ScheduleError: An invalid cron expression, recurrence or time zone.
        """
        check_name_and_policies(name, catch_up, overlap)
        check_executor(executor, dask_address)
        created = time.time() if now is None else now
        start = _start_of(start_time, created)
        timing, watched = _timing(cron, timezone, every, at, week_days, on_change, start)
        _check_trigger_options_need_a_trigger(
            watched, glob, poll, settle, data_path_param, storage_options
        )
        trigger = (
            TriggerSpec.build(on_change, glob, poll, settle, data_path_param, storage_options)
            if watched
            else None
        )
        draft = cls(
            name,
            pipeline,
            timing,
            trigger,
            _text(params),
            catch_up,
            overlap,
            executor=executor,
            dask_address=dask_address,
        )
        made = _checked(draft, created)
        # A start "now" fires at once: the cursor (fires after it are due) sits just before it.
        cursor = start.timestamp() - 0.001 if _is_now(start_time) and start else created
        _insert(made, open_workspace(workspace), cursor)
        return made

    @classmethod
    def get(
        cls, name: str, workspace: str | os.PathLike[str] | Workspace | None = None
    ) -> Schedule:
        """Load the schedule called ``name``.

        Raises:
            SchedulerError: No such schedule (with did-you-mean).
        """
        store = SchedulerStore(open_workspace(workspace).history)
        row = store.schedule(name)
        if row is None:
            names = [r.name for r in store.schedules()]
            raise SchedulerError(
                f"no schedule named {name!r}.{did_you_mean(name, names)} Schedules: "
                f"{', '.join(names) or '(none)'}; see `headrace schedule list`"
            )
        return cls.from_row(row)

    @classmethod
    def list(cls, workspace: str | os.PathLike[str] | Workspace | None = None) -> list[Schedule]:
        """Every schedule in the workspace, by name."""
        store = SchedulerStore(open_workspace(workspace).history)
        return [cls.from_row(r) for r in store.schedules()]

    def set_enabled(self, enabled: bool, workspace: Any = None) -> Schedule:
        """Enable or disable; a re-enabled time schedule does not catch up the disabled time."""
        SchedulerStore(open_workspace(workspace).history).set_enabled(
            self.name, enabled, time.time()
        )
        return Schedule.get(self.name, workspace)

    def delete(self, workspace: Any = None) -> None:
        """Delete the schedule (its past firings and runs stay in the history)."""
        SchedulerStore(open_workspace(workspace).history).delete_schedule(self.name)

    def next_fire(self, after: datetime) -> datetime | None:
        """The next fire time strictly after ``after``; None for triggers."""
        return self.timing.next_fire(after) if self.timing else None

    def trigger_now(
        self, params: dict[str, Any] | None = None, workspace: Any = None
    ) -> PipelineRun:
        """Run the pipeline now with ``params`` overriding the schedule's, and wait for it.

        Raises:
            HeadraceError: The pipeline or the parameters are invalid.
        """
        from headrace.engine.definitions.loader import load_pipeline
        from headrace.scheduler.launcher import executor_of

        ws = open_workspace(workspace)
        values = {**self.params, **{k: str(v) for k, v in (params or {}).items()}}
        pipe = load_pipeline(self.pipeline)
        spec = self.trigger
        if spec and spec.data_path_param and spec.data_path_param not in values:
            values[spec.data_path_param] = _whole_source(spec, pipe)
        pipe.definition.bind_params(values)
        executor = executor_of(ws, self.name)
        fired = datetime.now(UTC)
        firing = Firing(
            run_id_for(self.name, fired, True),
            self.name,
            fired.timestamp(),
            "manual",
            RUNNING,
            values,
        )
        store = SchedulerStore(ws.history)
        store.insert_firings([firing], time.time())
        try:
            tags = {"schedule": self.name}
            return pipe.submit(
                values, run_id=firing.run_id, workspace=ws, executor=executor, tags=tags
            )
        finally:
            store.set_state(firing.run_id, DONE, time.time())


def _whole_source(spec: TriggerSpec, pipe: Pipeline) -> str:
    from headrace.scheduler.launcher import encode_files

    """A manual run's data parameter: every current file (list[Path]) or the folder (Path)."""
    if parameter_kind(pipe, spec.data_path_param or "") == PATHS:
        return encode_files(sorted(open_source(spec).list()))  # a comma in a name survives
    return spec.path


def _text(params: dict[str, Any] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (params or {}).items()}


def _checked(draft: Schedule, created: float) -> Schedule:
    """The draft with its pipeline resolved and checked, stamped with its creation time."""
    checked = check_create(draft.name, draft.pipeline, draft.params, draft.trigger)
    return dataclasses.replace(
        draft,
        pipeline=checked.target,
        trigger=checked.trigger,
        params=checked.params,
        pipeline_name=checked.pipeline_name,
        created_at=created,
    )


def _insert(made: Schedule, ws: Workspace, cursor_time: float) -> None:
    """Store a new schedule with its trigger's starting cursor (the files already there)."""
    cursor = open_source(made.trigger).snapshot() if made.trigger else {}
    if not SchedulerStore(ws.history).insert_schedule(_row(made, cursor_time), cursor):
        raise SchedulerError(
            f"a schedule named {made.name!r} already exists in workspace {ws.root}; pick another "
            f"name, or replace it: headrace schedule delete {made.name}"
        )


def _row(s: Schedule, cursor_time: float) -> ScheduleRow:
    spec = s.trigger.to_dict() if s.trigger else s.timing.to_dict()  # type: ignore[union-attr]
    return ScheduleRow(
        name=s.name,
        pipeline=s.pipeline,
        kind=s.kind,
        spec=json.dumps(spec),
        params=json.dumps(s.params),
        catch_up=s.catch_up,
        overlap=s.overlap,
        enabled=True,
        created_at=s.created_at,
        updated_at=s.created_at,
        cursor_time=cursor_time,
        options=json.dumps(
            {
                "executor": s.executor,
                "dask_address": s.dask_address,
                "pipeline_name": s.pipeline_name,
            }
        ),
    )


def _is_now(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "now"


def _start_of(value: Any, created: float) -> datetime | None:
    """``--start`` as a datetime: ISO 8601 text, a datetime, or "now" (``created``, whole seconds)."""
    if value is None or isinstance(value, datetime):
        return value
    if _is_now(value):
        return datetime.fromtimestamp(int(created), UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SchedulerError(
        f"--start {value!r} is not a date and time; give ISO 8601 such as 2026-12-01T09:30 "
        "(a wall time in --timezone) or 2026-12-01T09:30+01:00 (with an offset), or 'now'"
    )


def _check_trigger_options_need_a_trigger(
    watched: Any, glob: str, poll: Any, settle: Any, data_path: Any, storage: Any
) -> None:
    """Refuse the options of a data trigger on a time schedule (they would be ignored)."""
    if watched:
        return
    given = [
        opt
        for opt, used in (
            ("--glob", glob != "*"),
            ("--poll", poll != "30s"),
            ("--settle", settle is not None),
            ("--data-path-param", data_path is not None),
            ("storage_options", bool(storage)),
        )
        if used
    ]
    if given:
        raise SchedulerError(
            f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --on-change (a "
            "time schedule watches no files); drop it, or make a data trigger, e.g. "
            "--on-change data/incoming --glob '*.csv'"
        )


def _timing(
    cron: str | None,
    timezone: str,
    every: str | None,
    at: str | None,
    week_days: str | None,
    on_change: str | None,
    start: datetime | None = None,
) -> tuple[Recurrence | Cron | None, Any]:
    options = (("--cron", cron, "'0 2 * * *'"), ("--every", every, "1d"))
    for opt, value, example in (*options, ("--on-change", on_change, "data/incoming")):
        if value is not None and not value.strip():
            raise SchedulerError(f"{opt} is empty; give one such as {opt} {example}")
    given = [
        opt for opt, v in (("--cron", cron), ("--every", every), ("--on-change", on_change)) if v
    ]
    if len(given) != 1:
        raise SchedulerError(
            f"a schedule needs exactly one of --cron, --every or --on-change (got "
            f"{', '.join(given) or 'none'}); e.g. --cron '0 2 * * *', --every 1d --at 02:00, "
            "or --on-change data/incoming"
        )
    if (at or week_days) and not every:
        raise SchedulerError(
            "--at and --week-days go with --every, e.g. --every 1w --at 02:00 --week-days Mon,Fri"
        )
    if start is not None and on_change:
        raise SchedulerError(
            "--start goes with --every or --cron (a data trigger fires when files change), "
            "e.g. --every 1d --at 02:00 --start 2026-12-01"
        )
    try:
        if cron:
            return _fires(Cron(cron, timezone, start), cron_or_every=f"--cron {cron!r}"), None
        if every:
            timing = _fires(
                parse_every(every, at, week_days, timezone, start),
                cron_or_every=f"--every {every!r}",
            )
            return timing, None
    except ScheduleError as exc:
        raise ScheduleError(in_flags(str(exc))) from None
    return None, True


def _fires(timing: Any, cron_or_every: str) -> Any:
    """``timing``, once it has computed its next two fires (before anything is saved): a start
    or an interval past what dates can hold fails here, not in every later ``schedule list``."""
    try:
        first = timing.next_fire(datetime.now(UTC))
        if first is not None:  # and the one after it, which the daemon computes once it fired
            timing.next_fire(first)
    except ScheduleError:
        raise
    except (OverflowError, ValueError) as exc:
        fix = (
            "a --start within them"
            if cron_or_every.startswith("--cron")
            else (
                "a --start within them and a shorter interval, e.g. --every 1d --start 2026-12-01"
            )
        )
        raise ScheduleError(
            f"{cron_or_every} cannot be scheduled: its fire times fall outside the dates "
            f"Python can hold, years 1 to 9999 ({exc}); give {fix}"
        ) from None
    return timing
