"""Running the loop's assets in process for tests: world, then per day the graph, then per
client the day × client stages, as the demo and the schedule do."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from pixie_assets.definitions import defs
from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings

ALL_ASSETS = list(defs.assets)
DAY_CLIENT_STAGES = DAY_CLIENT_ASSETS


def run(
    settings: PixieSettings,
    selection: Iterable[str],
    partition_key: str | dg.MultiPartitionKey | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ALL_ASSETS,
        selection=list(selection),
        partition_key=partition_key,
        resources={"pixie": settings},
        instance=instance,
        raise_on_error=True,
    )
    assert result.success
    return result


def run_day(
    settings: PixieSettings,
    day: str,
    clients: Iterable[str],
    stages: Iterable[str] = DAY_CLIENT_STAGES,
    instance: dg.DagsterInstance | None = None,
) -> dict[str, dg.ExecuteInProcessResult]:
    run(settings, ["pin_board_graph"], day, instance)
    stages = list(stages)
    return {c: run(settings, stages, day_client_key(day, c), instance) for c in clients}
