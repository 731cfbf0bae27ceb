"""MLflow for this project: one tracking database and artifact folder under PIXIE_HOME, one
experiment, one registered model per client, aliases instead of stages.

Every run the loop writes is logged here, so that the assets only call the domain and attach
Dagster metadata: trained models (``log_scorer_model``), evaluations (``log_evaluation_run``,
read back by ``evaluation_trend``), strategy studies (``log_study_run``) and replays
(``log_replay_run``).

Writes are ordered so that a process killed at any point (OOM killer, ``kill -9``) leaves nothing
half-visible: a model version is created with all its tags in one registry transaction, including
the SHA-256 of its stored files (``code_sha256``), which ``registry.load_scorer`` checks before
MLflow executes the stored code; a run left RUNNING by a killed process is ended as KILLED by the
next run of its partition (``end_stale_runs``)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
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


# --- partition runs ------------------------------------------------------------------------------

REPAIRED_BY_TAG = "pixie.repaired_by"


DAGSTER_RUN_URL_TAG = "dagster_run_url"


def partition_tags(
    client: str, day: str, dagster_run_id: str, dagster_run_url: str = ""
) -> dict[str, str]:
    """The tags that name a run's (day, client) partition; given to ``start_run`` so a run is
    findable by its partition from its first instant, even when its process dies right away.
    With ``dagster_run_url``, also the link back to the Dagster run (``dagster_run_url``)."""
    tags = {"client": client, "day": day, "dagster_run_id": dagster_run_id}
    return tags | ({DAGSTER_RUN_URL_TAG: dagster_run_url} if dagster_run_url else {})


# --- links into the MLflow UI -------------------------------------------------------------------


def mlflow_run_url(mlflow_url: str, experiment_id: str, run_id: str) -> str:
    """A run's page in the MLflow UI served at ``mlflow_url`` (``UiUrls.mlflow``)."""
    return f"{mlflow_url}/#/experiments/{experiment_id}/runs/{run_id}"


def model_version_url(mlflow_url: str, name: str, version: str) -> str:
    """A registered model version's page in the MLflow UI served at ``mlflow_url``."""
    return f"{mlflow_url}/#/models/{quote(name, safe='')}/versions/{version}"


def run_url(settings: Settings, mlflow_url: str, run_id: str) -> str:
    """``mlflow_run_url`` of a logged run: the UI addresses a run through its experiment,
    which the logging functions do not return, so it is read back from the store."""
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    return mlflow_run_url(mlflow_url, client.get_run(run_id).info.experiment_id, run_id)


def version_tags(settings: Settings, client: str, version: str) -> dict[str, str]:
    """The tags of the client's model ``version``: what its training recorded, for an
    evaluation that writes the version's review."""
    registry = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    return dict(registry.get_model_version(registered_model_name(client), version).tags)


def running_runs(
    mlflow_client: MlflowClient, experiment_ids: Sequence[str], tags: Mapping[str, str]
) -> list[Run]:
    """The runs in RUNNING state in ``experiment_ids`` that carry every one of ``tags``."""
    clauses = [f"tags.{key} = '{value}'" for key, value in tags.items()]
    filter_string = " and ".join([*clauses, "attributes.status = 'RUNNING'"])
    return list(mlflow_client.search_runs(list(experiment_ids), filter_string=filter_string))


def end_stale_runs(
    mlflow_client: MlflowClient, run: Run, partition: Mapping[str, str]
) -> list[str]:
    """End as KILLED every other RUNNING run of ``run``'s experiment and partition (tags
    ``client`` and ``day``), noting ``run`` as the repairer (tag ``pixie.repaired_by``); returns
    their ids.

    A run that is RUNNING when another run of its partition starts was left by a killed
    process: the writers of a partition (``lightweight_model``, ``model_evaluation``) are in
    the Dagster pool ``mlflow``, whose limit of 1 (``dagster.yaml``) lets one such step run at a
    time, so no live process holds a run of the partition while this one starts. Code that
    writes these experiments outside Dagster must keep to that rule."""
    stale = [
        found.info.run_id
        for found in running_runs(mlflow_client, [run.info.experiment_id], partition)
        if found.info.run_id != run.info.run_id
    ]
    for run_id in stale:
        mlflow_client.set_tag(run_id, REPAIRED_BY_TAG, run.info.run_id)
        mlflow_client.set_terminated(run_id, "KILLED")
    return stale


# --- model versions and the integrity of their stored code -------------------------------------

CODE_SHA256_TAG = "code_sha256"
CODE_FILES_TAG = "code_files"
# MLflow itself writes this file (model name and version) into a model folder it downloads
# through ``models:/`` URIs, the stored folder included when the store is local: not content.
UNHASHED_FILES = frozenset({"registered_model_meta"})


class ModelIntegrityError(RuntimeError):
    """A model version's stored files are not the ones registered: loading would execute code
    nobody registered."""


def model_file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a model folder, by path relative to it (``/``-separated),
    sorted by path.

    Every file, not only ``pyfunc_model.py`` and ``code/``: ``MLmodel`` names the loader and the
    code file, a file added under ``code/`` (a ``duckdb.py`` say) shadows an import because
    MLflow puts that folder first on ``sys.path``, and ``feature_spec.json`` holds SQL that
    runs. A change to any of them changes what loading executes. The readable copies of that
    SQL (``FEATURE_DOCS``) are hashed like the rest: they execute nothing, but a reviewer reads
    them as what the version runs, so they must be the files that were registered too."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative not in UNHASHED_FILES:
            with path.open("rb") as handle:
                digests[relative] = hashlib.file_digest(handle, "sha256").hexdigest()
    return dict(sorted(digests.items()))


def digests_sha256(digests: Mapping[str, str]) -> str:
    """One SHA-256 over the per-file digests: ``<path>\t<sha256>\n`` lines sorted by path."""
    listing = "".join(f"{path}\t{digest}\n" for path, digest in sorted(digests.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def code_tags(folder: Path) -> dict[str, str]:
    """The version tags that pin a model folder's contents: ``code_sha256`` (the one value to
    compare) and ``code_files`` (per-file digests, JSON, to name what changed)."""
    digests = model_file_digests(folder)
    return {
        CODE_SHA256_TAG: digests_sha256(digests),
        CODE_FILES_TAG: json.dumps(digests, separators=(",", ":")),
    }


def download_model(artifact_uri: str, destination: Path) -> Path:
    """A private copy of a stored model folder: what is hashed is what gets loaded, and nobody
    can change it between the two (a local store's folder is otherwise used in place)."""
    destination.mkdir(parents=True, exist_ok=True)
    return Path(
        mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(destination))
    )


# Readable copies of ``feature_spec.json`` beside it in each version's ``artifacts/``, for the
# registry UI (which shows a JSON string of SQL on one line): pyfunc artifact name → stored name.
FEATURE_DOCS = {
    "features_sql": "features.sql",
    "feature_context": "feature_context",
    "feature_names": "features.txt",
}


def write_feature_docs(spec: FeatureSpec, folder: Path) -> dict[str, str]:
    """Write ``FEATURE_DOCS`` of ``spec`` into ``folder``: ``features.sql``,
    ``feature_context/<table>.sql`` and ``features.txt`` (the model's inputs, one a line, in
    order). Returns them as pyfunc artifacts (name → path); no context folder without context
    SQL, since MLflow cannot store an empty folder as an artifact."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / stored for name, stored in FEATURE_DOCS.items()}
    paths["features_sql"].write_text(spec.features_sql)
    paths["feature_names"].write_text("".join(f"{name}\n" for name in spec.feature_names))
    if spec.context_sql:
        paths["feature_context"].mkdir()
        for table, sql in sorted(spec.context_sql.items()):
            (paths["feature_context"] / f"{table}.sql").write_text(sql)
    else:
        del paths["feature_context"]
    return {name: str(path) for name, path in paths.items()}


@dataclass(frozen=True)
class LoggedModel:
    name: str
    version: str
    model_uri: str
    code_sha256: str


def log_scorer_model(booster, spec: FeatureSpec, client: str, tags: dict[str, str]) -> LoggedModel:
    """Log the booster with its feature spec, the spec's readable copies (``FEATURE_DOCS``)
    and featurization code as a pyfunc model in the active run, then register it as a new
    version of the client's model with ``tags`` and the stored files' digests (``code_tags``).

    The model is logged unregistered first, so that the digests are taken from the folder as
    stored; ``mlflow.register_model(tags=…)`` then creates the version and its tags in one
    registry transaction: no reader ever sees the version without them."""
    with tempfile.TemporaryDirectory() as scratch:
        booster_path = Path(scratch) / "booster.ubj"
        spec_path = Path(scratch) / "feature_spec.json"
        booster.save_model(booster_path)
        spec_path.write_text(json.dumps(spec.to_dict(), indent=2))
        docs = write_feature_docs(spec, Path(scratch) / "docs")
        with warnings.catch_warnings():
            # The signature documents the inputs; an input example would only add a sample
            # file. MLflow colours the message, so it starts with an escape sequence.
            warnings.filterwarnings("ignore", message=".*An input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=pyfunc_model.__file__,
                code_paths=[featurize.__file__],
                artifacts={
                    "booster": str(booster_path),
                    "feature_spec": str(spec_path),
                    **docs,
                },
                pip_requirements=["xgboost", "duckdb", "pyarrow", "pandas", "numpy"],
                signature=ModelSignature(
                    inputs=Schema([ColSpec("double", name) for name in spec.feature_names]),
                    outputs=Schema([ColSpec("double", "score")]),
                ),
            )
        stored = code_tags(download_model(info.model_uri, Path(scratch) / "stored"))
    version = mlflow.register_model(
        info.model_uri, registered_model_name(client), tags={**tags, **stored}
    )
    return LoggedModel(
        registered_model_name(client), str(version.version), info.model_uri, stored[CODE_SHA256_TAG]
    )


def describe_registered_model(
    mlflow_client: MlflowClient, name: str, description: str, tags: Mapping[str, str]
) -> None:
    """Give the registered model ``description`` and ``tags``, writing only what differs:
    every training calls this, so it writes on the client's first version and after its
    settings changed, and a run killed half-way is completed by the next one."""
    model = mlflow_client.get_registered_model(name)
    if model.description != description:
        mlflow_client.update_registered_model(name, description=description)
    for key, value in tags.items():
        if model.tags.get(key) != value:
            mlflow_client.set_registered_model_tag(name, key, value)


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


def _log_comparison(frame: pd.DataFrame, table: str) -> None:
    """The comparison as the active run's artifacts: markdown to read, CSV to analyse."""
    mlflow.log_text(table, "comparison.md")
    mlflow.log_text(frame.to_csv(), "comparison.csv")


def _evaluation_description(decision_tags: Mapping[str, str], table: str) -> str:
    """The decision (tags ``promotion`` and ``promotion_reason``, when given) above the table."""
    decision = decision_tags.get("promotion")
    reason = decision_tags.get("promotion_reason")
    if decision is None:
        return table
    head = f"**Decision: {decision}**" + (f" — {reason}" if reason else "")
    return f"{head}\n\n{table}"


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
    sample: Mapping[str, float] | None = None,
    dagster_run_url: str = "",
) -> str:
    """One run per (day, client) in experiment ``pixie-evaluation``: the partition and the
    promotion decision as tags, every ranker's figures as ``<ranker>.<metric>``, the sample
    sizes behind them (``sample``, e.g. ``SampleSizes.as_metrics``), the comparison as
    artifacts and, with the decision, as the run's description (its page's first text), and
    ``dagster_run_url`` as a tag when given. Returns the run id."""
    mlflow_client = configure_mlflow(settings, EVALUATION_EXPERIMENT)
    tags = partition_tags(client, day, dagster_run_id, dagster_run_url)
    description = _evaluation_description(decision_tags, table)
    with mlflow.start_run(run_name=f"{client} {day}", tags=tags, description=description) as run:
        end_stale_runs(mlflow_client, run, {"client": client, "day": day})
        mlflow.set_tags(dict(decision_tags))
        for evaluation in evaluations:
            mlflow.log_metrics(evaluation_metrics(evaluation.metrics, evaluation.name))
        if sample:
            mlflow.log_metrics(dict(sample))
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
    dagster_run_url: str = "",
) -> str:
    """One parent run per (day, client) in experiment ``pixie-strategy-study`` with a nested run
    per arm (its parameters, evaluation and training metrics); the parent holds visit count's
    figures, the comparison and the partition's tags (with ``dagster_run_url`` when given).
    Returns the parent's run id."""
    day = study.eval_day.isoformat()
    configure_mlflow(settings, STUDY_EXPERIMENT)
    with mlflow.start_run(run_name=f"{client} {day}") as parent:
        mlflow.set_tags(partition_tags(client, day, dagster_run_id, dagster_run_url))
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
