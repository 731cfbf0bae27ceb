"""Shards of a day's requests and the runners that map a task over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    #: worker processes the tasks run on (1 in process)
    workers: int
    #: threads a task may use (numba, XGBoost): all cores in process, one per Dask worker thread
    task_threads: int | None
    #: where to watch the work (the Dask dashboard), or None
    dashboard: str | None

    def map(self, task: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


class InProcessRunner:
    """One shard after the other in this process, each with every core."""

    workers = 1
    task_threads: int | None = None
    dashboard: str | None = None

    def map(self, task: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [task(item) for item in items]


class DaskRunner:
    """Shards as tasks of a ``distributed.Client``; results gathered in order. Tasks must be
    importable functions with picklable arguments, and every path they read or write must be
    reachable from every worker (a shared filesystem)."""

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
