"""Daily schedules. Days run in order and the graph of a day comes before its clients, so the
graph is built at 00:30 UTC and the day × client loop starts at 01:30 UTC, both for yesterday's
partitions (the partitions definition is in UTC)."""

from __future__ import annotations

import dagster as dg

from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS, daily_client_job, graph_job

graph_schedule = dg.build_schedule_from_partitioned_job(
    graph_job,
    name="daily_graph_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    description="At 00:30 UTC, builds yesterday's pin_board_graph (every save before the day, "
    "pruned), an hour before daily_loop_schedule needs it for the day's candidates.",
)
loop_schedule = dg.build_schedule_from_partitioned_job(
    daily_client_job,
    name="daily_loop_schedule",
    hour_of_day=1,
    minute_of_hour=30,
    description="At 01:30 UTC, after daily_graph_schedule, runs yesterday's day × client "
    f"stages for every client ({', '.join(DAY_CLIENT_ASSETS)}): the model trained that day "
    "becomes @challenger, and the previous day's challenger is judged on the day's logs.",
)
