"""Shards of a day's requests and the runners that map a task over them."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Shard:
    """Requests [start, stop) of the day, in the day's order; ``index`` names its part file."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def part_name(self) -> str:
        return f"part-{self.index:05d}.parquet"


def plan_shards(n_items: int, shard_size: int) -> list[Shard]:
    """Consecutive shards of at most ``shard_size`` items; at least one (possibly empty), so
    every partition has a part file and readers need no special case."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, not {shard_size}")
    starts = range(0, max(n_items, 1), shard_size)
    return [Shard(i, s, min(s + shard_size, n_items)) for i, s in enumerate(starts)]


class ShardRunner(Protocol):
    """Maps a task over items and returns the results in the items' order."""

    #: True when tasks run in this process, one after the other
    in_process: bool
    #: worker processes the tasks run on (1 in process)
    workers: int
    #: threads a task may use (numba, XGBoost): all cores in process, one per Dask worker thread
    task_threads: int | None
    #: where to watch the work (the Dask dashboard), or None
    dashboard: str | None

    def map(self, task: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def run_everywhere(self, function: Callable[[], object]) -> None:
        """Call ``function`` in every worker process (and in this one): to drop a step's
        caches from workers that outlive it."""
        ...

    def imap(
        self, task: Callable[[T], R], items: Iterable[T], ahead: int | None = None
    ) -> Iterator[R]:
        """Results in the items' order as they are consumed, with at most ``ahead`` tasks
        (default: two per worker) submitted and not yet consumed, so a long stream of shards
        holds a bounded number of results; items are drawn lazily."""
        ...


class InProcessRunner:
    """One shard after the other in this process, each with every core."""

    in_process = True
    workers = 1
    task_threads: int | None = None
    dashboard: str | None = None

    def map(self, task: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [task(item) for item in items]

    def imap(
        self, task: Callable[[T], R], items: Iterable[T], ahead: int | None = None
    ) -> Iterator[R]:
        return (task(item) for item in items)

    def run_everywhere(self, function: Callable[[], object]) -> None:
        function()


class DaskRunner:
    """Shards as tasks of a ``distributed.Client``; results gathered in order. Tasks must be
    importable functions with picklable arguments, and every path they read or write must be
    reachable from every worker (a shared filesystem)."""

    in_process = False

    def __init__(self, client: Any) -> None:
        self.client = client
        info = client.scheduler_info()
        workers = info.get("workers", {})
        self.workers = max(1, len(workers))
        threads = {w.get("nthreads", 1) for w in workers.values()}
        self.task_threads = 1 if threads == {1} or not threads else min(threads)
        self.dashboard = getattr(client, "dashboard_link", None)

    def map(self, task: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        futures = self.client.map(task, list(items), pure=False)
        return self.client.gather(futures)

    def run_everywhere(self, function: Callable[[], object]) -> None:
        self.client.run(function)
        function()

    def imap(
        self, task: Callable[[T], R], items: Iterable[T], ahead: int | None = None
    ) -> Iterator[R]:
        window = ahead or 2 * self.workers
        pending: deque = deque()
        try:
            for item in items:
                pending.append(self.client.submit(task, item, pure=False))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # a consumer that stops early leaves no work behind on the cluster
            for future in pending:
                future.cancel()
