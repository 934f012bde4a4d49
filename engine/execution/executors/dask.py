"""The dask executor: step attempts run on a ``dask.distributed`` cluster.

Tasks are shipped by value (cloudpickle) so components from files loaded by path, test modules
or functions run on workers that cannot import their module. Workers read and write artifacts
through the workspace's artifact store, so they must be able to reach its root; run history
stays in the submitting process. Scripts that start a LocalCluster need the
``if __name__ == "__main__":`` guard (worker processes are spawned and import the script).
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import StoreUnreachableError
from ..task import StepResult, StepTask
from .base import RunInfo, infrastructure_failure
from .shipping import dumps, run_pickled, run_pickled_eager

if TYPE_CHECKING:
    from ..eager import EagerPlan

T = TypeVar("T")


def _sees(root: str, options: dict[str, Any], marker: str) -> bool | str:
    """Runs on each worker: whether the store's marker file is visible there (or why not)."""
    import fsspec

    try:
        fs, _ = fsspec.core.url_to_fs(root, **options)
        return True if fs.exists(marker) else "the store looks empty from there"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


class DaskExecutor:
    """Runs step attempts on a Dask cluster.

    Args:
        address: a running scheduler (``tcp://host:8786``); default: a LocalCluster for the run
            (2 worker processes, one thread each), closed after the run.
        client: an existing ``distributed.Client`` to use (left open after the run).
        n_workers: workers of the LocalCluster started when neither is given.
    """

    name = "dask"

    def __init__(self, address: str | None = None, client: Any = None, n_workers: int = 2):
        self.address = address
        self.client = client
        self.n_workers = n_workers
        self._own_client: Any = None
        self._cluster: Any = None
        self._pending: set[Any] = set()
        self._checked: set[str] = set()
        # the runner's future → its Dask future (eager steps name their upstream by the former)
        self._dask_of: weakref.WeakKeyDictionary[Future[StepResult], Any] = (
            weakref.WeakKeyDictionary()
        )
        self._serial = itertools.count()

    def session(self, run: RunInfo, body: Callable[[], T]) -> T:
        """Connect (or start a LocalCluster), check the store is reachable, run the loop."""
        self._connect()
        if run.store is not None:
            self._check_store(run.store)
        return body()

    def _connect(self) -> None:
        if self.client is not None or self._own_client is not None:
            return
        from distributed import Client, LocalCluster

        if self.address:
            self._own_client = Client(self.address)
            return
        self._cluster = LocalCluster(**local_cluster_options(self.n_workers))
        self._own_client = Client(self._cluster)

    @property
    def _client(self) -> Any:
        return self.client if self.client is not None else self._own_client

    def _check_store(self, spec: dict[str, Any]) -> None:
        """Fail before running when some worker cannot see the store (a marker file it must find)."""
        import fsspec

        root = str(spec["root"])
        if root in self._checked:
            return
        options = dict(spec.get("storage_options") or {})
        fs, path = fsspec.core.url_to_fs(root, **options)
        marker = f"{path.rstrip('/')}/.headrace-probe-{uuid.uuid4().hex}"
        fs.makedirs(path, exist_ok=True)
        fs.pipe_file(marker, b"headrace")
        try:
            seen = self._client.run(_sees, root, options, marker)
        finally:
            fs.rm_file(marker)
        blind = sorted(w for w, ok in seen.items() if ok is not True)
        if blind:
            raise StoreUnreachableError(
                f"the Dask workers {', '.join(blind)} cannot see the workspace's artifact store "
                f"{root} ({seen[blind[0]]}). Workers read and write artifacts there, so the store "
                "must be an fsspec URL every worker can reach: create the workspace with e.g. "
                "Workspace(path, artifact_root='s3://bucket/headrace', storage_options={...}) "
                "(or a folder on a filesystem the workers share), then run again."
            )
        self._checked.add(root)

    def submit(self, task: StepTask, upstream: Sequence[str]) -> Future[StepResult]:
        """Send a step attempt to the cluster; the result comes back as a concurrent Future."""
        return self._send(task, run_pickled, dumps(task))

    def submit_eager(
        self,
        task: StepTask,
        plan: EagerPlan,
        after: Sequence[Future[StepResult]],
        upstream: Sequence[str],
    ) -> Future[StepResult]:
        """Send a step whose upstream attempts are still in flight; Dask runs it after them,
        on their results, without a round trip through this process."""
        deps = [self._dask_of[f] for f in after]
        return self._send(task, run_pickled_eager, dumps(task, plan), *deps)

    def discard(self, future: Future[StepResult]) -> None:
        """Cancel an eager attempt the runner dropped (best effort: it may have started)."""
        dask_future = self._dask_of.pop(future, None)
        if dask_future is not None:
            dask_future.cancel()

    def _send(
        self, task: StepTask, fn: Callable[..., StepResult], *args: Any
    ) -> Future[StepResult]:
        assert self._client is not None, "submit() outside session()"
        self._check_store(task.store)
        key = f"{task.step}-{task.run_id}-{task.attempt}-{next(self._serial)}"
        dask_future = self._client.submit(fn, *args, key=key, pure=False)
        self._pending.add(dask_future)
        out: Future[StepResult] = Future()
        self._dask_of[out] = dask_future
        self._client.loop.add_callback(self._resolve, task, dask_future, out)
        return out

    async def _resolve(self, task: StepTask, dask_future: Any, out: Future[StepResult]) -> None:
        """Await the result on the client's event loop, so results are fetched concurrently
        (``add_done_callback`` runs callbacks one at a time and each ``result()`` is a round trip)."""
        try:
            result = await dask_future._result()
        except BaseException as exc:  # the worker died, unpickling failed, or it was canceled
            result = infrastructure_failure(task, "the Dask worker", exc)
        self._pending.discard(dask_future)
        with contextlib.suppress(InvalidStateError):  # the runner gave up on it (timeout)
            out.set_result(result)

    def note_reused(self, step: str, reused_from: str, upstream: Sequence[str]) -> None:
        """Nothing runs on the cluster for a reused step."""

    def shutdown(self, cancel: bool) -> None:
        """Cancel what is still queued (with ``cancel``); close a client/cluster started here."""
        if cancel and self._pending and self._client is not None:
            self._client.cancel(list(self._pending))
        self._pending.clear()
        self._dask_of.clear()
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def local_cluster_options(n_workers: int = 2) -> dict[str, Any]:
    """The LocalCluster headrace starts for a run: worker processes, all on loopback only.

    Dask's default ``dashboard_address=":0"`` listens on every interface; nothing headrace
    starts listens beyond 127.0.0.1 unless asked (connect to your own cluster for that).
    """
    return {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
    }
