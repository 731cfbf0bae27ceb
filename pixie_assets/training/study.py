"""The strategy study: every label strategy trained for one client on the same days and judged
on the same next day, to check the article's findings on our own logs — pure funnel captures more
impressions but predicts actions worse, blended does best, local labels raise the local share.

The arms and visit count go through the same ``evaluate_rankers`` as model_evaluation; in world
mode the caller hands over the world's simulator, which this module never imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.warehouse import scratch_reader
from pixie_assets.serving.featurize import BoosterScorer, FeatureSpec
from pixie_assets.training.evaluation import (
    Ranker,
    RankerEvaluation,
    Simulate,
    comparison_markdown,
    evaluate_rankers,
    logged_outcomes,
    primary_name,
    visit_count_ranker,
)
from pixie_assets.training.fit import TrainedModel, train_client_model
from pixie_assets.training.labels import STRATEGIES, label_partition

LOCAL_VARIANT_WEIGHT = 3.0

# The study's table: after the client's primary metric and its doubly robust estimate, these.
STUDY_COLUMNS = (
    "funnel_efficiency",
    "local_share_top_m",
    "ndcg_at_k",
    "auc_sent/any_action",
    "auc_impressed/any_action",
    "sim/primary_per_request",
    "sim/hide_per_request",
)


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


def study_train_days(config: ClientConfig, eval_day: date, first_day: date) -> list[date]:
    """The client's training window of days before ``eval_day``, oldest first, without the days
    before ``first_day`` (the loop has no logs of them); raises when none is left."""
    window = (eval_day - timedelta(days=i) for i in range(config.training_window_days, 0, -1))
    days = [d for d in window if d >= first_day]
    if not days:
        raise ValueError(
            f"strategy_study {config.name} {eval_day.isoformat()}: no earlier day to train on"
        )
    return days


@dataclass
class ArmResult:
    arm: StudyArm
    trained: TrainedModel
    evaluation: RankerEvaluation
    training_rows: int


@dataclass
class StudyResult:
    eval_day: date
    train_days: list[date]
    baseline: RankerEvaluation  # visit count
    arms: list[ArmResult]

    @property
    def evaluations(self) -> list[RankerEvaluation]:
        return [self.baseline] + [a.evaluation for a in self.arms]


def run_study(
    duckdb_path: Path,
    config: ClientConfig,
    train_days: list[date],
    eval_day: date,
    spec: FeatureSpec,
    simulate: Simulate | None = None,
    progress: Callable[[str], object] = print,
) -> StudyResult:
    """Train every arm on ``train_days`` and evaluate all of them and visit count on
    ``eval_day``'s logs (and, given the world's ``simulate``, by simulation)."""
    arms = study_arms(config)
    with scratch_reader(duckdb_path) as con:
        outcomes = logged_outcomes(con, eval_day, config.name)
        examples = {
            arm.name: pd.concat(
                [label_partition(con, arm.config, d, arm.strategy).to_pandas() for d in train_days],
                ignore_index=True,
            )
            for arm in arms
        }
    features = pa.Table.from_pandas(outcomes, preserve_index=False)
    trained: list[TrainedModel] = []
    rankers = [visit_count_ranker(outcomes)]
    for arm in arms:
        progress(f"study: training {arm.name} on {len(examples[arm.name]):,} examples")
        model = train_client_model(examples[arm.name], config, arm.strategy, spec.feature_names)
        trained.append(model)
        scores = BoosterScorer(model.booster, spec, arm.name).score(features)
        rankers.append(Ranker(arm.name, arm.name, scores))
    baseline, *evaluations = evaluate_rankers(outcomes, rankers, config, simulate)
    results = [
        ArmResult(arm, model, evaluation, len(examples[arm.name]))
        for arm, model, evaluation in zip(arms, trained, evaluations, strict=True)
    ]
    return StudyResult(eval_day, train_days, baseline, results)


def study_table(config: ClientConfig, frame: pd.DataFrame) -> str:
    """The study's comparison in markdown: the primary metric, its off-policy estimate (what
    landing mode can judge by) and ``STUDY_COLUMNS``, those the evaluation reported."""
    offpolicy = f"dr/{primary_name(config)}_per_request"
    columns = list(dict.fromkeys([config.primary_metric, offpolicy, *STUDY_COLUMNS]))
    columns = [c for c in columns if c in frame.columns]
    return comparison_markdown(frame[["version", *columns]], config.primary_metric)
