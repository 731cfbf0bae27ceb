"""The heavy per-request work in shards: run in this process, or on a Dask cluster.

A day's requests are cut into shards of a fixed size (``plan_shards``), so a shard's memory is
bounded and its result depends only on its own requests, never on the cluster that ran it.
``ShardRunner`` maps a task over shards, in order: ``InProcessRunner`` one after the other,
``DaskRunner`` on a ``distributed`` cluster (``cluster.open_runner`` for ``PIXIE_DASK``).

Pure domain code: no Dagster.
"""

from pixie_assets.distributed.cluster import open_runner
from pixie_assets.distributed.shards import (
    DaskRunner,
    InProcessRunner,
    Shard,
    ShardRunner,
    plan_shards,
)

__all__ = [
    "DaskRunner",
    "InProcessRunner",
    "Shard",
    "ShardRunner",
    "open_runner",
    "plan_shards",
]
