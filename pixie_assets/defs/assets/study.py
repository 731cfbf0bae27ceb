"""Asset ``strategy_study``: all label strategies of one client, side by side in MLflow."""

from datetime import date, timedelta

import dagster as dg
import mlflow

from pixie_assets.core.clients import client_config
from pixie_assets.defs.assets.training import MAX_TRAINING_WINDOW, labeled_examples
from pixie_assets.defs.partitions import (
    day_client_partitions,
    split_day_client,
    training_window_mapping,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.training.evaluation import (
    comparison_frame,
    comparison_markdown,
    primary_name,
)
from pixie_assets.training.study import run_study
from pixie_assets.training.tracking import STUDY_EXPERIMENT, configure_mlflow
from pixie_assets.world.traffic import partition_seed
from pixie_assets.world.truth import WorldTruth

STUDY_COLUMNS = (
    "funnel_efficiency",
    "local_share_top_m",
    "ndcg_at_k",
    "auc_sent/any_action",
    "auc_impressed/any_action",
    "sim/primary_per_request",
    "sim/hide_per_request",
)


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
    train_days = [
        d
        for d in (day - timedelta(days=i) for i in range(config.training_window_days, 0, -1))
        if d >= settings.start_day
    ]
    if not train_days:
        raise ValueError(f"strategy_study {client} {day_text}: no earlier day to train on")
    truth = WorldTruth.load(settings.truth_dir) if settings.source == "world" else None
    baseline, arms = run_study(
        settings.duckdb_path,
        config,
        train_days,
        day,
        repo_feature_spec(),
        truth,
        seed=partition_seed(settings.world_seed, day, client, "evaluation"),
        progress=context.log.info,
    )
    evaluations = [baseline] + [a.evaluation for a in arms]
    frame = comparison_frame(evaluations)
    offpolicy = f"dr/{primary_name(config)}_per_request"  # what landing mode can judge by
    columns = list(dict.fromkeys([config.primary_metric, offpolicy, *STUDY_COLUMNS]))
    columns = [c for c in columns if c in frame.columns]
    table = comparison_markdown(frame[["version", *columns]], config.primary_metric)

    configure_mlflow(settings, STUDY_EXPERIMENT)
    with mlflow.start_run(run_name=f"{client} {day_text}") as parent:
        mlflow.set_tags({"client": client, "day": day_text, "dagster_run_id": context.run.run_id})
        for arm in arms:
            with mlflow.start_run(run_name=arm.arm.name, nested=True):
                mlflow.log_params(
                    {
                        "strategy": arm.arm.strategy,
                        "local_weight": arm.arm.config.local_weight,
                        "train_days": ",".join(d.isoformat() for d in train_days),
                        "eval_day": day_text,
                    }
                )
                mlflow.log_metrics(
                    {k.replace("/", "."): v for k, v in arm.evaluation.metrics.items()}
                    | {f"train.{k}": v for k, v in arm.trained.metrics.items()}
                    | {"train.rows": float(arm.training_rows)}
                )
        mlflow.log_metrics(
            {f"visit_count.{k.replace('/', '.')}": v for k, v in baseline.metrics.items()}
        )
        mlflow.log_text(table, "comparison.md")
        mlflow.log_text(frame.to_csv(), "comparison.csv")
    return dg.MaterializeResult(
        metadata={
            "comparison": dg.MetadataValue.md(table),
            "train_days": f"{train_days[0]}..{train_days[-1]}",
            "mlflow_run_id": parent.info.run_id,
        }
    )
