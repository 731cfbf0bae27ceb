"""MLflow for this project: one tracking database and artifact folder under PIXIE_HOME, one
experiment, one registered model per client, aliases instead of stages."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from pixie_assets.core.settings import Settings
from pixie_assets.serving import featurize, pyfunc_model
from pixie_assets.serving.featurize import FeatureSpec

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


def model_uri(client: str, alias: str) -> str:
    return f"models:/{registered_model_name(client)}@{alias}"


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
