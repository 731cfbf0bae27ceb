"""Asset ``strategy_study``: all label strategies of one client, side by side in MLflow.

The wiring only: ``training.study`` trains and evaluates the arms (with the world's simulator in
world mode) and ``training.tracking`` logs them."""

from datetime import date

import dagster as dg

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import UiUrls
from pixie_assets.defs.assets.training import MAX_TRAINING_WINDOW, labeled_examples
from pixie_assets.defs.metadata import dagster_run_url, url_entries
from pixie_assets.defs.partitions import (
    day_client_partitions,
    split_day_client,
    training_window_mapping,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.training.evaluation import comparison_frame
from pixie_assets.training.study import run_study, study_table, study_train_days
from pixie_assets.training.tracking import log_study_run, run_url
from pixie_assets.world.counterfactual import evaluation_simulator


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[
        dg.AssetDep(
            labeled_examples,
            # the training days before D, and D itself (the day the arms are judged on)
            partition_mapping=training_window_mapping(MAX_TRAINING_WINDOW + 1),
        )
    ],
    pool="mlflow",
    group_name="evaluation",
    kinds={"xgboost", "mlflow"},
    description=(
        "Strategy study for day D of one client: one model per label strategy (engagement, "
        "funnel_pure, funnel_blended, distillation, and funnel_blended with local labels) "
        "trained on the client's window of days before D and evaluated side by side on D's "
        "logs and, in world mode, by simulation. Nested runs in MLflow experiment "
        "pixie-strategy-study. Not registered: study models never serve."
    ),
)
def strategy_study(context: dg.AssetExecutionContext, pixie: PixieSettings):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    config = client_config(client)
    day = date.fromisoformat(day_text)
    train_days = study_train_days(config, day, settings.start_day)
    study = run_study(
        settings.duckdb_path,
        config,
        train_days,
        day,
        repo_feature_spec(),
        simulate=evaluation_simulator(settings, config, day),
        progress=context.log.info,
    )
    frame = comparison_frame(study.evaluations)
    table = study_table(config, frame)
    ui = UiUrls.from_env()
    run_id = log_study_run(
        settings,
        client,
        study,
        frame=frame,
        table=table,
        dagster_run_id=context.run.run_id,
        dagster_run_url=dagster_run_url(ui.dagster, context.run.run_id),
    )
    return dg.MaterializeResult(
        metadata={
            "comparison": dg.MetadataValue.md(table),
            "train_days": f"{train_days[0]}..{train_days[-1]}",
            "mlflow_run_id": run_id,
            **url_entries({"mlflow_run_url": run_url(settings, ui.mlflow, run_id)}),
        }
    )
