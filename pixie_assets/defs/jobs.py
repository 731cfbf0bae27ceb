"""Named jobs. Assets of different partitionings cannot share a run, so the loop is one job per
partitioning: the unpartitioned world, the daily graph, the day × client stages."""

from __future__ import annotations

import dagster as dg

from pixie_assets.defs.assets.replay import replay_run_config

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


# Replay mode: a backtest of test windows on the user's own logs.
@dg.config_mapping(
    config_schema={
        "test_start": dg.Field(str, description="First day of the (last) test window."),
        "test_end": dg.Field(str, description="Last day of the (last) test window (included)."),
        "windows": dg.Field(int, default_value=1, description="Consecutive test windows."),
        "window_days": dg.Field(int, default_value=0, description="Days per window (0: auto)."),
        "candidates_k": dg.Field(int, default_value=1000),
        "training_windows": dg.Field(int, default_value=3),
        "seed": dg.Field(int, default_value=0),
    }
)
def _one_backtest(values: dict) -> dict:
    """The job asks for the windows once and gives them to both assets."""
    return replay_run_config(**values)


replay_job = dg.define_asset_job(
    "replay_job",
    selection=dg.AssetSelection.assets("replay_model", "replay_evaluation"),
    config=_one_backtest,
    description=(
        "Replay test windows (a rolling-origin backtest when windows > 1): train each window's "
        "model on the windows before it, then evaluate and pool them with 95% intervals."
    ),
)
