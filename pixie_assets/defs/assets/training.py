"""Assets ``labeled_examples`` (DuckDB) and ``lightweight_model`` (XGBoost in MLflow), per day ×
client."""

from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg
import numpy as np

from pixie_assets.core import contract
from pixie_assets.core.clients import CLIENTS, client_config
from pixie_assets.core.quality import PSI_ALERT, feature_psi
from pixie_assets.core.settings import Settings, UiUrls
from pixie_assets.core.sql import render_sql
from pixie_assets.core.warehouse import writer
from pixie_assets.defs.assets.serving import serving_log_table
from pixie_assets.defs.metadata import (
    dagster_run_url,
    described_check,
    display_numbers,
    plot_markdown,
    url_entries,
    versus,
)
from pixie_assets.defs.partitions import (
    day_client_partitions,
    split_day_client,
    training_window_mapping,
)
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.training.examples import (
    EXPORT_FOLDER,
    export_examples,
    load_examples,
    store_examples,
)
from pixie_assets.training.fit import (
    TrainedModel,
    client_plan,
    is_regression_strategy,
    train_client_model,
)
from pixie_assets.training.labels import label_partition
from pixie_assets.training.publish import TrainingWindow, importance_figure, publish_challenger
from pixie_assets.training.tracking import model_version_url, run_url

if TYPE_CHECKING:
    from distributed import Client

MAX_TRAINING_WINDOW = max(c.training_window_days for c in CLIENTS.values())
MIN_LABEL_RATE = 0.001
MAX_LABEL_RATE = 0.9


def _feature_drift(con, client: str, day: date, window_days: int) -> dict[str, float]:
    """PSI of each feature: day D's logged values against the window of days before it."""
    columns = ", ".join(contract.FEATURE_NAMES)
    sample = render_sql("checks/feature_sample", columns=columns)

    def values(since: date, until: date):
        params = {"client": client, "since": since, "until": until}
        return con.sql(sample, params=params).df()

    reference = values(day - timedelta(days=window_days), day)
    if reference.empty:
        return {}
    return feature_psi(reference, values(day, day + timedelta(days=1)), contract.FEATURE_NAMES)


def _label_rate_description(client: str, day: date, counts: dict[str, float]) -> str:
    """One line of what the label_rate check checked, and on which partition."""
    rows = int(counts["rows"])
    if "label_rate" not in counts:  # regression: the label must vary
        return f"{client} {day}: label std {counts['label_std']:.4g} over {rows:,} rows (> 0?)"
    rate = counts["label_rate"]
    inside = "within" if MIN_LABEL_RATE <= rate <= MAX_LABEL_RATE else "OUTSIDE"
    return (
        f"{client} {day}: label rate {rate:.4f} ({int(counts['positives']):,} positives of "
        f"{rows:,} rows), {inside} [{MIN_LABEL_RATE}, {MAX_LABEL_RATE}]"
    )


def _drift_description(client: str, day: date, drift: dict[str, float], window_days: int) -> str:
    """One line of what feature_drift checked, and on which partition: the largest PSI (and its
    feature) against the alert threshold."""
    scored = {name: value for name, value in drift.items() if not np.isnan(value)}
    if not scored:
        return f"{client} {day}: no PSI, no earlier day to compare with"
    worst = max(scored, key=scored.get)
    return (
        f"{client} {day}: max PSI {versus(scored[worst], PSI_ALERT)} ({worst}) over "
        f"{len(scored)} features, against the {window_days}-day window before"
    )


def _label_counts(examples, regression: bool) -> dict[str, float]:
    label = examples["label"].to_numpy() if examples.num_rows else np.zeros(0)
    counts = {"rows": float(examples.num_rows)}
    for column in ("impressed", "saved", "clicked", "closeup", "hidden"):
        counts[column] = float(np.asarray(examples[column].to_numpy(), dtype=float).sum())
    if regression:
        counts["label_std"] = float(label.std()) if len(label) else 0.0
    else:
        counts["positives"] = float((label > 0).sum())
        counts["label_rate"] = counts["positives"] / max(len(label), 1)
    return counts


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[serving_log_table],
    pool="duckdb",
    group_name="training",
    kinds={"duckdb", "sql"},
    check_specs=[
        dg.AssetCheckSpec(
            "label_rate",
            asset="labeled_examples",
            blocking=True,
            description="Fails on an empty or single-class partition, or a positive rate outside "
            f"[{MIN_LABEL_RATE}, {MAX_LABEL_RATE}]: it would poison training.",
        ),
        dg.AssetCheckSpec(
            "feature_drift",
            asset="labeled_examples",
            description=f"Population stability index of each logged feature, the day against the "
            f"training window before it; warns above {PSI_ALERT}.",
        ),
    ],
    description=(
        "The client's label strategy (sql/labels/<strategy>.sql) applied to the partition's "
        "serving_log ⟕ impressions ⟕ engagements: features, outcomes, label and weight, in "
        "DuckDB table labeled_examples."
    ),
)
def labeled_examples(context: dg.AssetExecutionContext, pixie: PixieSettings):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    config = client_config(client)
    day = date.fromisoformat(day_text)
    with writer(settings.duckdb_path) as con:
        examples = label_partition(con, config, day)
        store_examples(con, examples, day, client, config.strategy)
        drift = _feature_drift(con, client, day, config.training_window_days)
    regression = is_regression_strategy(config.strategy)
    counts = _label_counts(examples, regression)
    if regression:
        passed = counts["rows"] > 0 and counts["label_std"] > 0
    else:
        passed = (
            0 < counts["positives"] < counts["rows"]
            and MIN_LABEL_RATE <= counts["label_rate"] <= MAX_LABEL_RATE
        )
    context.log.info(f"{client} {day}: {counts}")
    return dg.MaterializeResult(
        metadata={
            "strategy": config.strategy,
            **display_numbers(counts),
            "dagster/row_count": int(counts["rows"]),
        },
        check_results=[
            described_check(
                "feature_drift",
                passed=all(v <= PSI_ALERT for v in drift.values() if not np.isnan(v)),
                description=_drift_description(client, day, drift, config.training_window_days),
                partition=str(context.partition_key),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={f"psi/{k}": v for k, v in drift.items()}
                or {"note": "no earlier day to compare with"},
            ),
            described_check(
                "label_rate",
                passed=bool(passed),
                description=_label_rate_description(client, day, counts),
                partition=str(context.partition_key),
                metadata={
                    **display_numbers(
                        {
                            k: v
                            for k, v in counts.items()
                            if k in ("rows", "positives", "label_rate", "label_std")
                        }
                    ),
                },
            ),
        ],
    )


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[
        dg.AssetDep(
            labeled_examples, partition_mapping=training_window_mapping(MAX_TRAINING_WINDOW)
        )
    ],
    pool="mlflow",
    group_name="training",
    kinds={"xgboost", "mlflow"},
    description=(
        "The client's lightweight XGBoost model trained on its last N days of labeled examples "
        "(rounds chosen by early stopping on the newest day, then refit on all N): one MLflow "
        "run in experiment pixie-lightweight and a new version of "
        "pixie-lightweight-<client> (alias @challenger) that carries its feature SQL. Trained in "
        "the step's process, or with xgboost.dask on the cluster of PIXIE_DASK from a Parquet "
        "export of the window ($PIXIE_HOME/exports/examples/client=C/day=D/)."
    ),
)
def lightweight_model(context: dg.AssetExecutionContext, pixie: PixieSettings):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    config = client_config(client)
    day = date.fromisoformat(day_text)
    days = [
        d
        for d in (day - timedelta(days=i) for i in reversed(range(config.training_window_days)))
        if d >= settings.start_day
    ]
    strategy = config.strategy
    regression = is_regression_strategy(strategy)
    spec = repo_feature_spec()
    with pixie.shard_runner() as runner:
        dask_client = getattr(runner, "client", None)
        if dask_client is None:
            examples = load_examples(settings.duckdb_path, client, days)
            context.log.info(
                f"training {client} on {len(examples):,} examples of {days[0]}..{days[-1]}"
            )
            trained = train_client_model(examples, config, strategy, spec.feature_names)
            rows, positives = len(examples), int((examples["label"] > 0).sum())
            trained_on = "in process"
        else:
            trained, rows, positives = _train_on_dask(
                context, settings, dask_client, client, days, strategy, spec.feature_names
            )
            trained_on = f"dask: {runner.workers} workers"
        dashboard = runner.dashboard
    label_counts = {
        "rows": float(rows),
        "positives": float(positives) if not regression else float("nan"),
    }
    window = TrainingWindow(days[0].isoformat(), days[-1].isoformat(), len(days))
    ui = UiUrls.from_env()
    published = publish_challenger(
        settings,
        config,
        trained,
        spec,
        strategy,
        day_text,
        window,
        label_counts,
        context.run.run_id,
        dagster_run_url(ui.dagster, context.run.run_id),
    )
    logged, run_id = published.logged, published.run_id
    if published.repaired_runs:
        context.log.warning(
            f"ended as KILLED the runs a killed training of {client} {day_text} had left "
            f"RUNNING: {', '.join(published.repaired_runs)}"
        )
    figure = importance_figure(trained.importance, f"{client} {day_text}")
    importance_plot = plot_markdown(figure, "feature importance")
    context.log.info(f"registered {logged.name} version {logged.version} as @challenger")
    return dg.MaterializeResult(
        metadata={
            "model_version": logged.version,
            "registered_model": logged.name,
            "mlflow_run_id": run_id,
            **url_entries(
                {
                    "mlflow_run_url": run_url(settings, ui.mlflow, run_id),
                    "model_version_url": model_version_url(ui.mlflow, logged.name, logged.version),
                }
            ),
            "code_sha256": logged.code_sha256,
            "strategy": strategy,
            "window": f"{window.first_day}..{window.last_day}",
            "trained_on": trained_on,
            "dagster/row_count": int(rows),
            **({"dask_dashboard": dg.MetadataValue.url(dashboard)} if dashboard else {}),
            **display_numbers(trained.metrics),
            "feature_importance": importance_plot,
        }
    )


def _train_on_dask(
    context: dg.AssetExecutionContext,
    settings: Settings,
    dask_client: "Client",
    client: str,
    days: list[date],
    strategy: str,
    feature_names: tuple[str, ...],
) -> tuple[TrainedModel, int, int]:
    """The window exported to Parquet under ``$PIXIE_HOME`` (every worker reads it there) and
    the model trained on the cluster; the trained model, its rows and positives."""
    # xgboost.dask imports distributed (a second): only runs on a cluster pay for it.
    from pixie_assets.training.fit_dask import train_on_dask

    plan = client_plan(client_config(client), strategy, feature_names)
    export = export_examples(
        settings.duckdb_path, settings.home / EXPORT_FOLDER, client, days, plan.columns
    )
    parts = sum(len(d.files) for d in export.days)
    context.log.info(
        f"training {client} on {export.rows:,} examples of {days[0]}..{days[-1]} on Dask "
        f"({parts} part files)"
    )
    return train_on_dask(dask_client, export, plan), export.rows, export.positives
