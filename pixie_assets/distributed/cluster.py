"""``PIXIE_DASK``: where shards run. Empty: in this process; ``local:N``: a
``distributed.LocalCluster`` of N single-threaded worker processes, started and closed here;
``tcp://host:port``: an existing scheduler (its workers must see the same files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pixie_assets.core.settings import DaskSpec
from pixie_assets.distributed.shards import DaskRunner, InProcessRunner, ShardRunner


@contextmanager
def open_runner(spec: DaskSpec) -> Iterator[ShardRunner]:
    """A runner for ``spec``; a local cluster lives as long as the block."""
    if spec.in_process:
        yield InProcessRunner()
        return
    from distributed import Client, LocalCluster

    if spec.address is not None:
        with Client(spec.address) as client:
            yield DaskRunner(client)
        return
    with (
        LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskRunner(client)
