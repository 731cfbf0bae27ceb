"""Named jobs. Assets of different partitionings cannot share a run, so the loop is one job per
partitioning: the unpartitioned world, the daily graph, the day × client stages."""

from __future__ import annotations

import dagster as dg

world_job = dg.define_asset_job("world_job", selection=dg.AssetSelection.assets("world"))
graph_job = dg.define_asset_job(
    "graph_job",
    selection=dg.AssetSelection.assets("pin_board_graph"),
)
# One day of one client surface: candidates, serving, ingestion, labels, training, evaluation.
DAY_CLIENT_ASSETS = (
    "walk_candidates",
    "serving_logs",
    "serving_log_table",
    "labeled_examples",
    "lightweight_model",
    "model_evaluation",
)
daily_client_job = dg.define_asset_job(
    "daily_client_job", selection=dg.AssetSelection.assets(*DAY_CLIENT_ASSETS)
)
# Every label strategy of one client trained on the same days, evaluated side by side.
strategy_study_job = dg.define_asset_job(
    "strategy_study_job", selection=dg.AssetSelection.assets("strategy_study")
)
# Landing mode: load one day × client of landing files into DuckDB (what the sensor launches).
ingest_job = dg.define_asset_job(
    "ingest_job", selection=dg.AssetSelection.assets("serving_log_table")
)
