"""Asset ``model_evaluation``: day D's logs judge the challenger trained through D-1 against
visit count and the champion; a clear win on the primary metric promotes it to ``@champion``."""

from datetime import date, timedelta

import dagster as dg
import mlflow
import pyarrow as pa

from pixie_assets.core.clients import client_config
from pixie_assets.core.sql import load_sql
from pixie_assets.core.warehouse import reader
from pixie_assets.defs.assets.training import labeled_examples, lightweight_model
from pixie_assets.defs.metadata import line_figure, plot_markdown
from pixie_assets.defs.partitions import (
    day_client_partitions,
    previous_day_mapping,
    split_day_client,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.serving.scoring import VISIT_COUNT_VERSION
from pixie_assets.training.evaluation import (
    RankerEvaluation,
    comparison_frame,
    comparison_markdown,
    logged_funnel,
    ranker_metrics,
)
from pixie_assets.training.promotion import decide_promotion_on
from pixie_assets.training.registry import (
    aliased_version,
    load_scorer,
    record_review,
    registry_consistency,
    set_alias,
    version_trained_on,
)
from pixie_assets.training.tracking import CHAMPION, EVALUATION_EXPERIMENT, configure_mlflow
from pixie_assets.world.traffic import partition_seed
from pixie_assets.world.truth import WorldTruth


def _read_outcomes(settings, day: date, client: str):
    with reader(settings.duckdb_path) as con:
        return con.sql(load_sql("labels/outcomes"), params={"day": day, "client": client}).df()


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[
        dg.AssetDep(lightweight_model, partition_mapping=previous_day_mapping()),
        labeled_examples,
    ],
    pool="mlflow",
    group_name="evaluation",
    kinds={"mlflow"},
    check_specs=[
        dg.AssetCheckSpec(
            "registry_consistency",
            asset="model_evaluation",
            description="After the decision: one @champion per client once any version was "
            "promoted (the newest promoted one), and @challenger on the newest version.",
        )
    ],
    description=(
        "Scores day D's logged candidates with visit count, the challenger trained through D-1 "
        "and the current champion: AUC of the client's actions among sent candidates and "
        "impressions, recall@M, funnel efficiency, NDCG@k, local share; off-policy estimates "
        "(IPS, SNIPS, doubly robust; additive and slot-adjusted) of each ranker's actions per "
        "request from the logged exploration; in world mode also the simulated expected "
        "actions per request of serving with each. Promotes the challenger to @champion on a "
        "clear win on the primary metric (or its fallback when the primary is undefined); the "
        "decision goes into the version's description."
    ),
)
def model_evaluation(context: dg.AssetExecutionContext, pixie: PixieSettings):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    config = client_config(client)
    day = date.fromisoformat(day_text)
    outcomes = _read_outcomes(settings, day, client)
    features = pa.Table.from_pandas(outcomes, preserve_index=False)
    truth = WorldTruth.load(settings.truth_dir) if settings.source == "world" else None
    seed = partition_seed(settings.world_seed, day, client, "evaluation")

    rankers: list[tuple[str, str, object]] = [
        ("visit_count", VISIT_COUNT_VERSION, outcomes["visit_count"].to_numpy())
    ]
    challenger_version = version_trained_on(settings, client, (day - timedelta(days=1)).isoformat())
    champion_version = aliased_version(settings, client, CHAMPION)
    for name, version in (("challenger", challenger_version), ("champion", champion_version)):
        if version is not None:
            scorer = load_scorer(settings, client, version)
            rankers.append((name, scorer.version, scorer.score(features)))

    logged = logged_funnel(outcomes, config)  # the same propensities for every ranker
    evaluations = [
        RankerEvaluation(name, version, ranker_metrics(outcomes, s, config, truth, seed, logged))
        for name, version, s in rankers
    ]
    frame = comparison_frame(evaluations)
    table = comparison_markdown(frame, config.primary_metric)

    metrics = config.promotion_metrics
    unknown = [m for m in metrics if m not in frame.columns]
    if unknown:  # a typo in clients.py must not silently fall back or never promote
        raise ValueError(
            f"{client}: promotion metric(s) {unknown} are not evaluation metrics; "
            f"choose among {sorted(c for c in frame.columns if c != 'version')}"
        )
    checks_passed = len(outcomes) > 0 and bool(outcomes["impressed"].any())
    decision = decide_promotion_on(
        metrics,
        {name: frame.loc[name, list(metrics)].to_dict() for name in frame.index},
        margin=config.promotion_margin,
        checks_passed=checks_passed,
    )
    context.log.info(f"{client} {day_text}: {decision.reason}")

    configure_mlflow(settings, EVALUATION_EXPERIMENT)
    with mlflow.start_run(run_name=f"{client} {day_text}") as run:
        mlflow.set_tags({"client": client, "day": day_text, "dagster_run_id": context.run.run_id})
        mlflow.set_tags(decision.as_tags())
        for evaluation in evaluations:
            mlflow.log_metrics(
                {
                    f"{evaluation.name}.{k.replace('/', '.')}": v
                    for k, v in evaluation.metrics.items()
                }
            )
        mlflow.log_text(table, "comparison.md")
        mlflow.log_text(frame.to_csv(), "comparison.csv")

    if challenger_version is not None:
        description = (
            f"Evaluated on {client} logs of {day_text} (primary metric {config.primary_metric}, "
            f"decided on {decision.metric}).\n"
            f"Decision: {'PROMOTED to @champion' if decision.promote else 'not promoted'} — "
            f"{decision.reason}.\n\n{table}\n\nMLflow evaluation run: {run.info.run_id}"
        )
        record_review(
            settings,
            client,
            challenger_version,
            {**decision.as_tags(), "evaluated_on": day_text},
            description,
        )
        if decision.promote:  # the last step: a failed run never moves the alias
            set_alias(settings, client, CHAMPION, challenger_version)

    consistency = registry_consistency(settings, client)
    metadata = {
        "metric_trend": _trend_plot(settings, client, config.primary_metric),
        "comparison": dg.MetadataValue.md(table),
        "primary_metric": config.primary_metric,
        "decision_metric": decision.metric,
        "decision": "promoted" if decision.promote else "kept",
        "reason": decision.reason,
        "challenger_version": challenger_version or "none",
        "champion_before": champion_version or "none",
        "mlflow_run_id": run.info.run_id,
    }
    for name in frame.index:
        metadata[f"{name}/{config.primary_metric}"] = float(frame.loc[name, config.primary_metric])
        if "sim/primary_per_request" in frame.columns:
            metadata[f"{name}/sim_primary_per_request"] = float(
                frame.loc[name, "sim/primary_per_request"]
            )
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="registry_consistency",
                passed=bool(consistency["consistent"]),
                metadata={k: v for k, v in consistency.items() if k != "consistent"},
            )
        ],
    )


def _trend_plot(settings, client: str, metric: str) -> dg.MetadataValue:
    """The primary metric of each ranker across the days evaluated so far (MLflow history)."""
    experiment = mlflow.get_experiment_by_name(EVALUATION_EXPERIMENT)
    runs = mlflow.search_runs([experiment.experiment_id], filter_string=f"tags.client = '{client}'")
    runs = runs.sort_values("start_time").drop_duplicates("tags.day", keep="last")
    runs = runs.sort_values("tags.day")
    key = metric.replace("/", ".")
    series = {
        ranker: runs[f"metrics.{ranker}.{key}"].to_numpy()
        for ranker in ("visit_count", "challenger", "champion")
        if f"metrics.{ranker}.{key}" in runs
    }
    figure = line_figure(
        runs["tags.day"].tolist(), series, f"{client}: {metric} by day", "day", metric
    )
    return plot_markdown(figure, "metric trend")
