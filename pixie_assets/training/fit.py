"""Fitting one client's lightweight model: a small, weighted XGBoost GBDT over the logged
features. Low complexity on purpose: it scores every candidate Pixie returns."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb

from pixie_assets.training.metrics import auc

RANKING_OBJECTIVES = frozenset({"rank:pairwise", "rank:ndcg", "rank:map"})


class TrainingDataError(ValueError):
    """The examples cannot train a model (empty, one class, no varying target)."""


@dataclass
class TrainedModel:
    booster: xgb.Booster
    objective: str
    feature_names: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)  # total gain per feature


def validation_mask(request_ids: np.ndarray, fraction: float, salt: str = "valid") -> np.ndarray:
    """Whole requests go to validation (never split a request): a stable hash of the id."""
    uniques, codes = np.unique(request_ids, return_inverse=True)
    bucket = np.array([zlib.crc32(f"{salt}|{r}".encode()) % 10_000 for r in uniques])
    return (bucket < fraction * 10_000)[codes]


def _matrix(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([frame[n].to_numpy(dtype=np.float32) for n in names])


def _dmatrix(frame: pd.DataFrame, names: tuple[str, ...], objective: str) -> xgb.DMatrix:
    if objective in RANKING_OBJECTIVES:
        frame = frame.sort_values("request_id", kind="stable")
        qid = pd.factorize(frame["request_id"])[0]
        return xgb.DMatrix(
            _matrix(frame, names), label=frame["label"], qid=qid, feature_names=list(names)
        )
    return xgb.DMatrix(
        _matrix(frame, names),
        label=frame["label"].to_numpy(),
        weight=frame["weight"].to_numpy(),
        feature_names=list(names),
    )


def check_trainable(examples: pd.DataFrame, regression: bool) -> None:
    if examples.empty:
        raise TrainingDataError("no labeled examples in the training window")
    labels = examples["label"].to_numpy()
    if regression:
        if np.nanstd(labels) == 0:
            raise TrainingDataError("the regression target does not vary")
    elif labels.min() == labels.max():
        raise TrainingDataError(f"every example has label {labels[0]}: one class only")


def train_lightweight_model(
    examples: pd.DataFrame,
    feature_names: tuple[str, ...],
    objective: str,
    params: dict[str, float],
    rounds: int,
    seed: int = 0,
    valid_fraction: float = 0.2,
) -> TrainedModel:
    """Train on ``examples`` (request_id, features, label, weight) with a request-level holdout.

    Metrics: train/validation AUC of the model and of visit count on the same validation rows
    (binary labels; for a regression target, the label of "impressed and acted on"), rows,
    positives. Early stopping on the validation loss keeps the model small."""
    regression = objective.startswith("reg:")
    check_trainable(examples, regression)
    valid = validation_mask(examples["request_id"].to_numpy(), valid_fraction)
    train_rows, valid_rows = examples[~valid], examples[valid]
    dtrain = _dmatrix(train_rows, feature_names, objective)
    dvalid = _dmatrix(valid_rows, feature_names, objective)
    booster = xgb.train(
        {**params, "objective": objective, "seed": seed, "nthread": 0},
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=20,
        verbose_eval=False,
    )
    booster = booster[: booster.best_iteration + 1]
    metrics = {
        "rows_train": float(len(train_rows)),
        "rows_valid": float(len(valid_rows)),
        "best_iteration": float(booster.num_boosted_rounds()),
    }
    for name, rows in (("train", train_rows), ("valid", valid_rows)):
        target = _binary_target(rows, regression)
        margin = booster.inplace_predict(_matrix(rows, feature_names), predict_type="margin")
        metrics[f"{name}_auc"] = auc(target, margin)
        metrics[f"{name}_positives"] = float(target.sum())
    metrics["valid_auc_visit_count"] = auc(
        _binary_target(valid_rows, regression), valid_rows["visit_count"].to_numpy()
    )
    importance = {k: float(v) for k, v in booster.get_score(importance_type="total_gain").items()}
    return TrainedModel(booster, objective, feature_names, metrics, importance)


def _binary_target(rows: pd.DataFrame, regression: bool) -> np.ndarray:
    if not regression:
        return (rows["label"].to_numpy() > 0).astype(np.float64)
    acted = rows[["saved", "clicked", "closeup"]].to_numpy().sum(axis=1) > 0
    return acted.astype(np.float64)
