"""The strategy study: every label strategy trained for one client on the same days and judged
on the same next day, to check the article's findings on our own logs — pure funnel captures more
impressions but predicts actions worse, blended does best, local labels raise the local share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.sql import load_sql
from pixie_assets.core.warehouse import scratch_reader
from pixie_assets.serving.featurize import BoosterScorer, FeatureSpec
from pixie_assets.training.evaluation import RankerEvaluation, logged_funnel, ranker_metrics
from pixie_assets.training.fit import TrainedModel, train_client_model
from pixie_assets.training.labels import STRATEGIES, label_partition
from pixie_assets.world.truth import WorldTruth

LOCAL_VARIANT_WEIGHT = 3.0


@dataclass(frozen=True)
class StudyArm:
    name: str
    strategy: str
    config: ClientConfig


def study_arms(config: ClientConfig) -> list[StudyArm]:
    """One arm per strategy, plus funnel_blended with local labels (local weight 3)."""
    arms = [
        StudyArm(s, s, dataclasses.replace(config, strategy=s, local_weight=1.0))
        for s in STRATEGIES
    ]
    local = dataclasses.replace(
        config, strategy="funnel_blended", local_weight=LOCAL_VARIANT_WEIGHT
    )
    arms.append(StudyArm("funnel_blended_local", "funnel_blended", local))
    return arms


@dataclass
class ArmResult:
    arm: StudyArm
    trained: TrainedModel
    evaluation: RankerEvaluation
    training_rows: int


def run_study(
    duckdb_path: Path,
    config: ClientConfig,
    train_days: list[date],
    eval_day: date,
    spec: FeatureSpec,
    truth: WorldTruth | None,
    seed: int,
    progress=print,
) -> tuple[RankerEvaluation, list[ArmResult]]:
    """Train every arm on ``train_days`` and evaluate all of them and visit count on
    ``eval_day``'s logs (and, in world mode, by simulation)."""
    with scratch_reader(duckdb_path) as con:
        outcomes = con.sql(
            load_sql("labels/outcomes"), params={"day": eval_day, "client": config.name}
        ).df()
        examples = {
            arm.name: pd.concat(
                [label_partition(con, arm.config, d, arm.strategy).to_pandas() for d in train_days],
                ignore_index=True,
            )
            for arm in study_arms(config)
        }
    features = pa.Table.from_pandas(outcomes, preserve_index=False)
    logged = logged_funnel(outcomes, config)

    def evaluate(name: str, version: str, scores) -> RankerEvaluation:
        metrics = ranker_metrics(outcomes, scores, config, truth, seed, logged)
        return RankerEvaluation(name, version, metrics)

    baseline = evaluate("visit_count", "visit_count", outcomes["visit_count"].to_numpy())
    results = []
    for arm in study_arms(config):
        progress(f"study: training {arm.name} on {len(examples[arm.name]):,} examples")
        trained = train_client_model(examples[arm.name], config, arm.strategy, spec.feature_names)
        scores = BoosterScorer(trained.booster, spec, arm.name).score(features)
        results.append(
            ArmResult(arm, trained, evaluate(arm.name, arm.name, scores), len(examples[arm.name]))
        )
    return baseline, results
