"""Daily schedules. Days run in order and the graph of a day comes before its clients, so the
graph is built at 00:30 UTC and the day × client loop starts at 01:30 UTC, both for yesterday's
partitions (the partitions definition is in UTC)."""

from __future__ import annotations

import dagster as dg

from pixie_assets.defs.jobs import daily_client_job, graph_job

graph_schedule = dg.build_schedule_from_partitioned_job(
    graph_job, name="daily_graph_schedule", hour_of_day=0, minute_of_hour=30
)
loop_schedule = dg.build_schedule_from_partitioned_job(
    daily_client_job, name="daily_loop_schedule", hour_of_day=1, minute_of_hour=30
)
