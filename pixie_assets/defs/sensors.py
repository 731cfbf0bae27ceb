"""Landing mode: ingest a (day, client) partition as soon as an online service has written its
serving_log and impressions files. The cursor remembers what was seen (and when it changed),
so a rewritten partition is ingested again and an unchanged one never twice."""

from __future__ import annotations

import json

import dagster as dg

from pixie_assets.defs.jobs import ingest_job
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing import complete_partitions


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=60,
    description="Landing mode: launches serving_log_table for each new or rewritten landing "
    "partition (serving_log and impressions both present). Skips in world mode.",
)
def landing_files_sensor(context: dg.SensorEvaluationContext, pixie: PixieSettings):
    settings = pixie.resolved()
    if settings.source != "landing":
        return dg.SkipReason(f"PIXIE_SOURCE={settings.source}: nothing lands from outside")
    seen: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for (day, client), stamp in sorted(complete_partitions(settings.landing_dir).items()):
        key = f"{day}|{client}"
        if seen.get(key) == stamp:
            continue
        seen[key] = stamp
        requests.append(
            dg.RunRequest(run_key=f"{key}@{stamp}", partition_key=day_client_key(day, client))
        )
    context.update_cursor(json.dumps(seen, sort_keys=True))
    return requests or dg.SkipReason("no new landing partitions")
