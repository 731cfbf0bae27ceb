"""The cheapest real registry: a three-tree booster published through ``publish_challenger`` and
judged through the same registry steps as ``model_evaluation``, with the metric values given.

Tests call these in process, or in a child interpreter (``in_child``) armed with a failpoint to
kill it at a chosen write: the registry is then what a killed Dagster step leaves behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb
from mlflow import MlflowClient

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import Settings
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.training.fit import TrainedModel
from pixie_assets.training.promotion import (
    PromotionDecision,
    decide_promotion,
    settle_with_registry,
)
from pixie_assets.training.publish import Published, TrainingWindow, publish_challenger
from pixie_assets.training.registry import commit_decision, evaluation_contenders
from pixie_assets.training.tracking import EXPERIMENT, configure_mlflow

CLIENT = "homefeed"
MODEL = f"pixie-lightweight-{CLIENT}"


def empty_store(home: Path, template: Path) -> Settings:
    """Settings for ``home`` whose MLflow store starts as a copy of ``template``, an empty store
    whose schema is already migrated (creating one costs about 3 s; copying it, nothing)."""
    home.mkdir(parents=True, exist_ok=True)
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        MlflowClient(f"sqlite:///{template}").search_experiments()
    shutil.copyfile(template, home / "mlflow.db")
    return Settings(home=home)


def fresh_store(tmp_path: Path, tmp_path_factory) -> Path:
    """A PIXIE_HOME with an empty, migrated MLflow store (the ``home`` fixture of the registry
    tests)."""
    template = tmp_path_factory.getbasetemp() / "mlflow_template" / "mlflow.db"
    empty_store(tmp_path / "pixie_home", template)
    return tmp_path / "pixie_home"


def store_client(home: Path) -> MlflowClient:
    return configure_mlflow(Settings(home=home))


def store_consistency(home: Path, client: str) -> dict:
    from pixie_assets.training.registry import registry_consistency

    return registry_consistency(Settings(home=home), client)


def tiny_trained(seed: int = 0) -> TrainedModel:
    """Three shallow trees over the project's feature names: a real booster in milliseconds."""
    names = repo_feature_spec().feature_names
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(64, len(names)))
    labels = (features[:, 0] > 0).astype(float)
    matrix = xgb.DMatrix(features, label=labels, feature_names=list(names))
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1}, matrix, 3)
    importance = {name: 1.0 for name in names}
    return TrainedModel(booster, "binary:logistic", names, {"valid_auc": 0.5}, importance)


def publish_tiny(home: Path, day: str, dagster_run_id: str = "test-run") -> Published:
    """``lightweight_model[day, homefeed]`` with a tiny booster: a run and a new @challenger."""
    config = client_config(CLIENT)
    return publish_challenger(
        Settings(home=home),
        config,
        tiny_trained(),
        repo_feature_spec(),
        config.strategy,
        day,
        TrainingWindow(day, day, 1),
        {"rows": 64.0},
        dagster_run_id,
    )


def evaluate_tiny(
    home: Path, trained_through: str, challenger: float, baseline: float
) -> PromotionDecision:
    """The registry steps of ``model_evaluation`` for the day after ``trained_through``: the
    contenders, the decision on a primary metric where the challenger scores ``challenger`` and
    its baseline ``baseline`` (margin 0), settled with the registry, then committed."""
    settings = Settings(home=home)
    contenders = evaluation_contenders(settings, CLIENT, trained_through)
    champion = baseline if contenders.champion is not None else None
    decision = settle_with_registry(
        decide_promotion("auc", challenger, champion, baseline, 0.0, checks_passed=True),
        contenders.view,
    )
    if contenders.challenger is not None:
        tags = {**decision.as_tags(), "evaluated_on": f"after {trained_through}"}
        commit_decision(settings, CLIENT, contenders.challenger, decision, tags, decision.reason)
    return decision


def in_child(call: str, failpoint: str) -> subprocess.CompletedProcess:
    """Run ``call`` (an expression over this module's names) in a new interpreter that dies by
    SIGKILL at ``failpoint``."""
    script = f"from pixie_assets_tests.training.registry_builders import *\n{call}\n"
    env = {**os.environ, "PIXIE_FAILPOINT": failpoint}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )


def partition_runs(home: Path, day: str) -> list:
    """The training runs of (day, homefeed), oldest first."""
    client = configure_mlflow(Settings(home=home))
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    runs = client.search_runs(
        [experiment], f"tags.client = '{CLIENT}' and tags.day = '{day}'", order_by=["start_time"]
    )
    return list(runs)
