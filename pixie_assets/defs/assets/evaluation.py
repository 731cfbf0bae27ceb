"""Asset ``model_evaluation``: day D's logs judge the challenger trained through D-1 against
visit count and the champion; a clear win on the primary metric promotes it to ``@champion``.

The wiring only: the figures come from ``training.evaluation.evaluate_rankers`` (with the world's
simulator in world mode), the decision from ``training.promotion`` and the MLflow run from
``training.tracking``."""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pyarrow as pa

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import Settings, UiUrls
from pixie_assets.core.warehouse import reader
from pixie_assets.defs.assets.training import labeled_examples, lightweight_model
from pixie_assets.defs.metadata import (
    dagster_run_url,
    described_check,
    line_figure,
    plot_markdown,
    url_entries,
)
from pixie_assets.defs.partitions import (
    day_client_partitions,
    previous_day_mapping,
    split_day_client,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.training.evaluation import (
    EVALUATION_MAX_REQUESTS,
    Ranker,
    comparison_frame,
    evaluate_rankers,
    has_impressions,
    logged_outcomes,
    review_markdown,
    sample_sizes,
    visit_count_ranker,
)
from pixie_assets.training.promotion import (
    RunLink,
    decide_on_comparison,
    review_description,
    settle_with_registry,
)
from pixie_assets.training.registry import (
    commit_decision,
    evaluation_contenders,
    load_scorer,
    registry_consistency,
)
from pixie_assets.training.tracking import (
    DAGSTER_RUN_URL_TAG,
    evaluation_trend,
    log_evaluation_run,
    model_version_url,
    registered_model_name,
    run_url,
    version_tags,
)
from pixie_assets.world.counterfactual import evaluation_simulator


def _model_rankers(
    settings: Settings, client: str, outcomes: pd.DataFrame, versions: dict[str, str | None]
) -> list[Ranker]:
    """The registered versions (``ranker name → version``, None where there is none) scoring
    the day's logged candidates."""
    features = pa.Table.from_pandas(outcomes, preserve_index=False)
    rankers = []
    for name, version in versions.items():
        if version is not None:
            scorer = load_scorer(settings, client, version)
            rankers.append(Ranker(name, scorer.version, scorer.score(features)))
    return rankers


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
            description="After the decision: every version carries its training tags "
            "(day, strategy, dagster_run_id, code_sha256); @champion is tagged promoted and the "
            "versions it replaced are tagged superseded; @challenger is the newest version; no "
            "run of the client is left RUNNING by a killed process. Names each problem.",
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
        "decision and the comparison (a row per metric, the challenger's difference to the "
        "champion, the sample sizes) go into the version's description, and the champion it "
        "replaces is marked superseded."
    ),
)
def model_evaluation(context: dg.AssetExecutionContext, pixie: PixieSettings):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    config = client_config(client)
    day = date.fromisoformat(day_text)
    with reader(settings.duckdb_path) as con:
        outcomes = logged_outcomes(con, day, client, EVALUATION_MAX_REQUESTS)
    contenders = evaluation_contenders(settings, client, (day - timedelta(days=1)).isoformat())
    challenger_version, champion_version = contenders.challenger, contenders.champion
    versions = {"challenger": challenger_version, "champion": champion_version}
    rankers = [visit_count_ranker(outcomes), *_model_rankers(settings, client, outcomes, versions)]
    simulate = evaluation_simulator(settings, config, day)
    evaluations = evaluate_rankers(outcomes, rankers, config, simulate)
    frame = comparison_frame(evaluations)
    sample = sample_sizes(outcomes, config)
    table = review_markdown(frame, config.primary_metric, sample)
    decision = settle_with_registry(
        decide_on_comparison(config, frame, checks_passed=has_impressions(outcomes)),
        contenders.view,
    )
    context.log.info(f"{client} {day_text}: {decision.reason}")

    ui = UiUrls.from_env()
    evaluated_by = RunLink(context.run.run_id, dagster_run_url(ui.dagster, context.run.run_id))
    run_id = log_evaluation_run(
        settings,
        client,
        day_text,
        evaluations,
        frame=frame,
        table=table,
        decision_tags=decision.as_tags(),
        dagster_run_id=context.run.run_id,
        sample=sample.as_metrics(),
        dagster_run_url=evaluated_by.url,
    )
    evaluation_url = run_url(settings, ui.mlflow, run_id)
    if challenger_version is not None:  # alias first, then the review that records it
        review = review_description(
            config,
            day_text,
            decision,
            table,
            run_id,
            run_url=evaluation_url,
            trained_by=_trained_by(settings, client, challenger_version),
            evaluated_by=evaluated_by,
        )
        commit_decision(
            settings,
            client,
            challenger_version,
            decision,
            {**decision.as_tags(), "evaluated_on": day_text, "evaluation_run_url": evaluation_url},
            review,
        )

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
        "mlflow_run_id": run_id,
        **_link_metadata(ui.mlflow, client, evaluation_url, versions),
        **_ranker_metadata(frame, config.primary_metric),
        **_primary_metadata(frame, config.primary_metric),
        "requests": sample.requests,
        "dagster/row_count": len(outcomes),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            described_check(
                "registry_consistency",
                passed=bool(consistency["consistent"]),
                description=_consistency_description(client, day_text, consistency),
                partition=str(context.partition_key),
                metadata={
                    **{k: v for k, v in consistency.items() if k not in ("consistent", "problems")},
                    "problems": dg.MetadataValue.md(
                        "\n".join(f"- {p}" for p in consistency["problems"]) or "none"
                    ),
                },
            )
        ],
    )


def _trained_by(settings: Settings, client: str, version: str) -> RunLink:
    """The Dagster run that trained ``version``, from its tags (a version registered before
    the tag existed has its run id only)."""
    tags = version_tags(settings, client, version)
    return RunLink(tags.get("dagster_run_id", "unknown"), tags.get(DAGSTER_RUN_URL_TAG, ""))


def _link_metadata(
    mlflow_url: str, client: str, evaluation_url: str, versions: dict[str, str | None]
) -> dict[str, dg.MetadataValue]:
    """Links into MLflow: the evaluation's run, and the challenger's and the champion's
    (before the decision) version pages, where there is one."""
    name = registered_model_name(client)

    def version_url(version: str | None) -> str | None:
        return model_version_url(mlflow_url, name, version) if version else None

    return url_entries(
        {
            "mlflow_run_url": evaluation_url,
            "challenger_version_url": version_url(versions["challenger"]),
            "champion_before_url": version_url(versions["champion"]),
        }
    )


# The rankers whose primary metric is plotted under client-agnostic keys (``primary/<ranker>``).
PRIMARY_RANKERS = ("visit_count", "champion", "challenger")


def _primary_metadata(frame: pd.DataFrame, primary_metric: str) -> dict[str, float]:
    """Each ranker's primary metric under ``primary/<ranker>``, whatever the client's metric
    is, so that Dagster's Plots tab draws the same keys for every client; and
    ``primary/lift``, the challenger's lift over visit count (the baseline every day has)
    relative to visit count's value, as the promotion margin is; NaN when that is 0."""
    values = {
        ranker: float(frame.loc[ranker, primary_metric])
        for ranker in PRIMARY_RANKERS
        if ranker in frame.index
    }
    metadata = {f"primary/{ranker}": value for ranker, value in values.items()}
    if "challenger" in values and "visit_count" in values:
        baseline = values["visit_count"]
        lift = (values["challenger"] - baseline) / abs(baseline) if baseline else float("nan")
        metadata["primary/lift"] = lift
    return metadata


def _consistency_description(client: str, day: str, consistency: dict[str, object]) -> str:
    """One line of what registry_consistency checked after the partition's decision: the
    client's registry as a whole, the first problem named when there are any."""
    model = registered_model_name(client)
    problems = list(consistency["problems"])
    if not problems:
        return (
            f"{client} {day}: {model} consistent ({consistency['versions']} versions, "
            f"@champion {consistency['champion']}, @challenger {consistency['challenger']})"
        )
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{client} {day}: {model} has {len(problems)} problem(s): {problems[0]}{more}"


def _ranker_metadata(frame: pd.DataFrame, primary_metric: str) -> dict[str, float]:
    """Each ranker's primary metric and, in world mode, its simulated primary actions."""
    metadata = {}
    for name in frame.index:
        metadata[f"{name}/{primary_metric}"] = float(frame.loc[name, primary_metric])
        if "sim/primary_per_request" in frame.columns:
            metadata[f"{name}/sim_primary_per_request"] = float(
                frame.loc[name, "sim/primary_per_request"]
            )
    return metadata


def _trend_plot(settings: Settings, client: str, metric: str) -> dg.MetadataValue:
    """The primary metric of each ranker across the days evaluated so far (MLflow history)."""
    trend = evaluation_trend(settings, client, metric)
    figure = line_figure(trend.days, trend.series, f"{client}: {metric} by day", "day", metric)
    return plot_markdown(figure, "metric trend")
