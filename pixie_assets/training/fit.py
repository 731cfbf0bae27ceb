"""Fitting one client's lightweight model: a small, weighted XGBoost GBDT over the logged
features. Low complexity on purpose: it scores every candidate Pixie returns."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb

from pixie_assets.core.clients import ClientConfig
from pixie_assets.training.labels import REGRESSION_STRATEGIES
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


# Below this many rows a boosting round is too little work for a second thread: the threads'
# per-node barriers cost more than they save, and on a busy machine (three clients training at
# once, or a replay beside other work) a descheduled thread stalls every barrier: 16k rows took
# 4.7 s per 100 rounds with 2 threads and 0.7 s with one, measured on 2 shared cores.
PARALLEL_TRAINING_ROWS = 200_000


def training_threads(rows: int) -> int:
    """XGBoost threads for ``rows`` examples: one for small sets, all cores (0) for large."""
    return 1 if rows < PARALLEL_TRAINING_ROWS else 0


def check_trainable(examples: pd.DataFrame, regression: bool) -> None:
    if examples.empty:
        raise TrainingDataError("no labeled examples in the training window")
    labels = examples["label"].to_numpy()
    if regression:
        if np.nanstd(labels) == 0:
            raise TrainingDataError("the regression target does not vary")
    elif labels.min() == labels.max():
        raise TrainingDataError(f"every example has label {labels[0]}: one class only")


DEFAULT_EARLY_STOPPING_ROUNDS = 20


def hold_back_newest_day(
    examples: pd.DataFrame, day_column: str = "day"
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Split a training window into (older days, newest day) for early stopping.

    The newest day stands in for tomorrow: a model that has not seen it is judged on it as it
    will be judged on the day after training. A window of one day (or whose older days hold no
    examples) has nothing to hold back: ``(examples, None)``, and training falls back to a random
    request holdout."""
    if examples.empty or day_column not in examples.columns:
        return examples, None
    days = pd.to_datetime(examples[day_column])
    newest = days == days.max()
    if newest.all():
        return examples, None
    return (
        examples[~newest].reset_index(drop=True),
        examples[newest].reset_index(drop=True),
    )


def train_lightweight_model(
    examples: pd.DataFrame,
    feature_names: tuple[str, ...],
    objective: str,
    params: dict[str, float],
    rounds: int,
    seed: int = 0,
    valid_fraction: float = 0.2,
    *,
    validation: pd.DataFrame | None = None,
    early_stopping_rounds: int | None = None,
    refit: bool = False,
) -> TrainedModel:
    """Train on ``examples`` (request_id, features, label, weight), stopping early on a
    validation set.

    Validation: ``validation`` when given and not empty — the caller holds back the newest day of
    its window, so the number of trees is the one that generalises to a day the model has not
    seen, which is its job tomorrow. Without it (a one-day window) a ``valid_fraction`` of
    ``examples``' requests is held out, as before; such a holdout shares the days (and users) of
    training, so its loss keeps falling and early stopping rarely triggers.

    ``early_stopping_rounds`` (default 20): rounds without a better validation figure before
    stopping; the model keeps the best round. On a held-back day a binary model stops on AUC,
    not log loss: the newest day was sent by another champion, so its label rate and weights
    shift and the log loss turns up after a handful of trees (4 on the demo world's related_pins)
    while the ranking the model is used for keeps improving for dozens more. The random holdout
    keeps XGBoost's default metric, as before. ``refit`` (explicit validation only): train again
    on examples + validation with the number of rounds found, so that the newest day, which is
    most like tomorrow, is not lost to validation; the validation metrics stay those of the
    early-stopped model, which did not see that day.

    Metrics: train/validation AUC of the model and of visit count on the same validation rows
    (binary labels; for a regression target, the label of "impressed and acted on"), rows,
    positives, ``best_iteration`` (trees kept), ``early_stopped`` (1 when fewer than ``rounds``)
    and ``validation_day`` (1 for a held-back day, 0 for the random request holdout).
    """
    regression = objective.startswith("reg:")
    check_trainable(examples, regression)
    held_back_day = validation is not None and not validation.empty
    if held_back_day:
        train_rows, valid_rows = examples, validation
    else:
        valid = validation_mask(examples["request_id"].to_numpy(), valid_fraction)
        train_rows, valid_rows = examples[~valid], examples[valid]
    dtrain = _dmatrix(train_rows, feature_names, objective)
    dvalid = _dmatrix(valid_rows, feature_names, objective)
    booster_params = {
        **params,
        "objective": objective,
        "seed": seed,
        "nthread": training_threads(len(train_rows)),
    }
    stopping_params = dict(booster_params)
    if held_back_day and "eval_metric" not in params and objective.startswith("binary:"):
        stopping_params["eval_metric"] = "auc"
    booster = xgb.train(
        stopping_params,
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=early_stopping_rounds or DEFAULT_EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    booster = booster[: booster.best_iteration + 1]
    trees = booster.num_boosted_rounds()
    metrics = {
        "rows_train": float(len(train_rows)),
        "rows_valid": float(len(valid_rows)),
        "best_iteration": float(trees),
        "early_stopped": float(trees < rounds),
        "validation_day": float(held_back_day),
    }
    metrics.update(_auc_metrics(booster, valid_rows, "valid", feature_names, regression))
    metrics["valid_auc_visit_count"] = auc(
        _binary_target(valid_rows, regression), valid_rows["visit_count"].to_numpy()
    )
    if held_back_day and refit:
        train_rows = pd.concat([examples, validation], ignore_index=True)
        booster = xgb.train(
            booster_params, _dmatrix(train_rows, feature_names, objective), num_boost_round=trees
        )
        metrics["rows_train"] = float(len(train_rows))
    metrics["refit"] = float(held_back_day and refit)
    metrics.update(_auc_metrics(booster, train_rows, "train", feature_names, regression))
    importance = {k: float(v) for k, v in booster.get_score(importance_type="total_gain").items()}
    return TrainedModel(booster, objective, feature_names, metrics, importance)


def _auc_metrics(
    booster: xgb.Booster,
    rows: pd.DataFrame,
    name: str,
    feature_names: tuple[str, ...],
    regression: bool,
) -> dict[str, float]:
    target = _binary_target(rows, regression)
    margin = booster.inplace_predict(_matrix(rows, feature_names), predict_type="margin")
    return {f"{name}_auc": auc(target, margin), f"{name}_positives": float(target.sum())}


def _binary_target(rows: pd.DataFrame, regression: bool) -> np.ndarray:
    if not regression:
        return (rows["label"].to_numpy() > 0).astype(np.float64)
    acted = rows[["saved", "clicked", "closeup"]].to_numpy().sum(axis=1) > 0
    return acted.astype(np.float64)


REGRESSION_OBJECTIVE = "reg:squarederror"


def is_regression_strategy(strategy: str) -> bool:
    """Whether a label strategy's target is a score (distillation) rather than classes: the one
    rule for how it is fit and how its labels are counted and checked."""
    return strategy in REGRESSION_STRATEGIES


def training_objective(config: ClientConfig, strategy: str) -> str:
    """A regression for a score-valued target, the client's objective otherwise."""
    return REGRESSION_OBJECTIVE if is_regression_strategy(strategy) else config.objective


def train_client_model(
    examples: pd.DataFrame, config: ClientConfig, strategy: str, feature_names: tuple[str, ...]
) -> TrainedModel:
    """One client's model for one label strategy, as the loop and the strategy study train it:
    the strategy's ``training_objective``, early stopping on the newest day of ``examples``, then
    a refit on all of them."""
    older, newest = hold_back_newest_day(examples)
    return train_lightweight_model(
        older,
        feature_names,
        training_objective(config, strategy),
        config.xgb_params,
        config.boost_rounds,
        validation=newest,
        early_stopping_rounds=config.early_stopping_rounds,
        refit=True,
    )
