"""Named jobs. Assets of different partitionings cannot share a run, so the loop is one job per
partitioning: the unpartitioned world, the daily graph, the day × client stages."""

from __future__ import annotations

import dagster as dg

world_job = dg.define_asset_job("world_job", selection=dg.AssetSelection.assets("world"))
