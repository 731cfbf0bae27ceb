"""MLflow for this project: one tracking database and artifact folder under PIXIE_HOME, one
experiment, one registered model per client, aliases instead of stages.

Every run the loop writes is logged here, so that the assets only call the domain and attach
Dagster metadata: trained models (``log_scorer_model``), evaluations (``log_evaluation_run``,
read back by ``evaluation_trend``), strategy studies (``log_study_run``) and replays
(``log_replay_run``)."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from pixie_assets.core.settings import Settings
from pixie_assets.serving import featurize, pyfunc_model
from pixie_assets.serving.featurize import FeatureSpec
from pixie_assets.training.evaluation import RankerEvaluation
from pixie_assets.training.study import ArmResult, StudyResult

EXPERIMENT = "pixie-lightweight"
EVALUATION_EXPERIMENT = "pixie-evaluation"
STUDY_EXPERIMENT = "pixie-strategy-study"
CHAMPION = "champion"
CHALLENGER = "challenger"


def registered_model_name(client: str) -> str:
    return f"pixie-lightweight-{client}"


@contextmanager
def _store_lock(settings: Settings) -> Iterator[None]:
    """Serialize processes that open the tracking store: on a new mlflow.db, MLflow creates and
    migrates the schema on first connection, and parallel first runs (three clients of a day)
    would otherwise run that migration at the same time and corrupt each other's."""
    with open(settings.home / ".mlflow.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def configure_mlflow(settings: Settings, experiment: str = EXPERIMENT) -> MlflowClient:
    """Point this process at the project's MLflow (absolute sqlite URI, artifacts beside it),
    creating the store and the experiment on first use; safe when several processes start at
    once."""
    settings.home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    with _store_lock(settings):
        client = MlflowClient()
        if client.get_experiment_by_name(experiment) is None:
            client.create_experiment(
                experiment, artifact_location=settings.mlflow_artifacts_dir.resolve().as_uri()
            )
    mlflow.set_experiment(experiment)
    return client


@dataclass(frozen=True)
class LoggedModel:
    name: str
    version: str
    model_uri: str


def log_scorer_model(booster, spec: FeatureSpec, client: str, tags: dict[str, str]) -> LoggedModel:
    """Log the booster with its feature spec and featurization code as a pyfunc model in the
    active run, and register it as a new version of the client's model."""
    with tempfile.TemporaryDirectory() as scratch:
        booster_path = Path(scratch) / "booster.ubj"
        spec_path = Path(scratch) / "feature_spec.json"
        booster.save_model(booster_path)
        spec_path.write_text(json.dumps(spec.to_dict(), indent=2))
        # The signature documents the inputs; an input example would only add a sample file.
        warnings.filterwarnings("ignore", message="An input example was not provided")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc_model.__file__,
            code_paths=[featurize.__file__],
            artifacts={"booster": str(booster_path), "feature_spec": str(spec_path)},
            registered_model_name=registered_model_name(client),
            pip_requirements=["xgboost", "duckdb", "pyarrow", "pandas", "numpy"],
            signature=ModelSignature(
                inputs=Schema([ColSpec("double", name) for name in spec.feature_names]),
                outputs=Schema([ColSpec("double", "score")]),
            ),
        )
    version = str(info.registered_model_version)
    mlflow_client = MlflowClient()
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(registered_model_name(client), version, key, value)
    return LoggedModel(registered_model_name(client), version, info.model_uri)


REPLAY_EXPERIMENT = "pixie-replay"


def mlflow_metric_name(name: str) -> str:
    """MLflow takes letters, digits and ``_-. :/`` in metric names: ``hit@100`` → ``hit_at_100``."""
    return name.replace("@", "_at_")


def log_replay_run(
    settings: Settings,
    run_name: str,
    params: dict[str, object],
    metrics: dict[str, float],
    artifacts: dict[str, str],
    tags: dict[str, str],
) -> str:
    """One MLflow run per replay (experiment ``pixie-replay``): its parameters, the pooled
    metrics with their interval bounds, and text artifacts (``name → content``). Returns the
    run id. A replay never registers a model: it is a study, not a serving candidate."""
    configure_mlflow(settings, REPLAY_EXPERIMENT)
    finite = {
        mlflow_metric_name(k): float(v)
        for k, v in metrics.items()
        if v == v and abs(v) != float("inf")
    }
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(finite)
        for name, content in artifacts.items():
            mlflow.log_text(content, name)
    return run.info.run_id


# --- evaluations and strategy studies -----------------------------------------------------------

TREND_RANKERS = ("visit_count", "challenger", "champion")


def evaluation_metric_name(name: str, ranker: str = "") -> str:
    """An evaluation figure's MLflow name: ``auc_sent/save`` → ``auc_sent.save``, and
    ``<ranker>.auc_sent.save`` where one run holds several rankers."""
    dotted = name.replace("/", ".")
    return f"{ranker}.{dotted}" if ranker else dotted


def evaluation_metrics(figures: Mapping[str, float], ranker: str = "") -> dict[str, float]:
    return {evaluation_metric_name(k, ranker): v for k, v in figures.items()}


def _partition_tags(client: str, day: str, dagster_run_id: str) -> dict[str, str]:
    return {"client": client, "day": day, "dagster_run_id": dagster_run_id}


def _log_comparison(frame: pd.DataFrame, table: str) -> None:
    """The comparison as the active run's artifacts: markdown to read, CSV to analyse."""
    mlflow.log_text(table, "comparison.md")
    mlflow.log_text(frame.to_csv(), "comparison.csv")


def log_evaluation_run(
    settings: Settings,
    client: str,
    day: str,
    evaluations: Sequence[RankerEvaluation],
    *,
    frame: pd.DataFrame,
    table: str,
    decision_tags: Mapping[str, str],
    dagster_run_id: str,
) -> str:
    """One run per (day, client) in experiment ``pixie-evaluation``: the partition and the
    promotion decision as tags, every ranker's figures as ``<ranker>.<metric>``, the comparison
    as artifacts. Returns the run id."""
    configure_mlflow(settings, EVALUATION_EXPERIMENT)
    with mlflow.start_run(run_name=f"{client} {day}") as run:
        mlflow.set_tags(_partition_tags(client, day, dagster_run_id))
        mlflow.set_tags(dict(decision_tags))
        for evaluation in evaluations:
            mlflow.log_metrics(evaluation_metrics(evaluation.metrics, evaluation.name))
        _log_comparison(frame, table)
    return run.info.run_id


def _arm_params(arm: ArmResult, study: StudyResult) -> dict[str, object]:
    return {
        "strategy": arm.arm.strategy,
        "local_weight": arm.arm.config.local_weight,
        "train_days": ",".join(d.isoformat() for d in study.train_days),
        "eval_day": study.eval_day.isoformat(),
    }


def _arm_metrics(arm: ArmResult) -> dict[str, float]:
    """The arm's evaluation, its training metrics (``train.``) and its number of examples."""
    return (
        evaluation_metrics(arm.evaluation.metrics)
        | {f"train.{k}": v for k, v in arm.trained.metrics.items()}
        | {"train.rows": float(arm.training_rows)}
    )


def log_study_run(
    settings: Settings,
    client: str,
    study: StudyResult,
    *,
    frame: pd.DataFrame,
    table: str,
    dagster_run_id: str,
) -> str:
    """One parent run per (day, client) in experiment ``pixie-strategy-study`` with a nested run
    per arm (its parameters, evaluation and training metrics); the parent holds visit count's
    figures and the comparison. Returns the parent's run id."""
    day = study.eval_day.isoformat()
    configure_mlflow(settings, STUDY_EXPERIMENT)
    with mlflow.start_run(run_name=f"{client} {day}") as parent:
        mlflow.set_tags(_partition_tags(client, day, dagster_run_id))
        for arm in study.arms:
            with mlflow.start_run(run_name=arm.arm.name, nested=True):
                mlflow.log_params(_arm_params(arm, study))
                mlflow.log_metrics(_arm_metrics(arm))
        mlflow.log_metrics(evaluation_metrics(study.baseline.metrics, study.baseline.name))
        _log_comparison(frame, table)
    return parent.info.run_id


@dataclass(frozen=True)
class MetricTrend:
    """One metric of each ranker across the days evaluated so far, oldest day first."""

    days: list[str]
    series: dict[str, np.ndarray]  # ranker → value per day (NaN where it was not evaluated)


def evaluation_trend(settings: Settings, client: str, metric: str) -> MetricTrend:
    """``metric`` of visit count, the challenger and the champion from the client's evaluation
    runs, the newest run of each day (a day evaluated again replaces its earlier figures)."""
    configure_mlflow(settings, EVALUATION_EXPERIMENT)
    experiment = mlflow.get_experiment_by_name(EVALUATION_EXPERIMENT)
    runs = mlflow.search_runs([experiment.experiment_id], filter_string=f"tags.client = '{client}'")
    runs = runs.sort_values("start_time").drop_duplicates("tags.day", keep="last")
    runs = runs.sort_values("tags.day")
    columns = {r: f"metrics.{evaluation_metric_name(metric, r)}" for r in TREND_RANKERS}
    series = {ranker: runs[c].to_numpy() for ranker, c in columns.items() if c in runs}
    return MetricTrend(runs["tags.day"].tolist(), series)
