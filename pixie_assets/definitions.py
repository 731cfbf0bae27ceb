"""The project's one ``Definitions``: every asset, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from pixie_assets.core.settings import get_settings
from pixie_assets.defs import concurrency
from pixie_assets.defs.assets.candidates import pin_board_graph, walk_candidates
from pixie_assets.defs.assets.evaluation import model_evaluation
from pixie_assets.defs.assets.replay import replay_evaluation, replay_model
from pixie_assets.defs.assets.serving import serving_log_table, serving_logs
from pixie_assets.defs.assets.study import strategy_study
from pixie_assets.defs.assets.training import labeled_examples, lightweight_model
from pixie_assets.defs.assets.world import world
from pixie_assets.defs.jobs import (
    daily_client_job,
    graph_job,
    ingest_job,
    replay_job,
    strategy_study_job,
    world_job,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.defs.schedules import graph_schedule, loop_schedule
from pixie_assets.defs.sensors import landing_files_sensor

# Every process that loads the project (code server, run workers, CLI, demo) waits for pool
# slots without spinning and frees the slots of runs that died holding them.
concurrency.install()

defs = dg.Definitions(
    assets=[
        world,
        pin_board_graph,
        walk_candidates,
        serving_logs,
        serving_log_table,
        labeled_examples,
        lightweight_model,
        model_evaluation,
        strategy_study,
        replay_model,
        replay_evaluation,
    ],
    jobs=[world_job, graph_job, daily_client_job, strategy_study_job, ingest_job, replay_job],
    schedules=[graph_schedule, loop_schedule],
    sensors=[landing_files_sensor],
    resources={"pixie": PixieSettings.from_settings(get_settings())},
)
