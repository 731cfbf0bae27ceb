"""Fitting one client's lightweight model: a small, weighted XGBoost GBDT over the logged
features. Low complexity on purpose: it scores every candidate Pixie returns.

One procedure, two engines. ``fit_early_stopped`` is the fit: the validation split, early
stopping, the refit and the metrics, with every decision (objective, parameters, stopping
metric) taken by a ``FitPlan``. An engine only says how its kind of rows are split, counted,
trained on and scored: ``InProcessEngine`` on pandas frames in this process (the loop's default,
the study, replay), ``training.fit_dask.DaskEngine`` on Dask frames with ``xgboost.dask``. So
the distributed model cannot drift from the in-process one by a decision, only by the
arithmetic of distributed training (``fit_dask``)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import xgboost as xgb

from pixie_assets.core.clients import ClientConfig
from pixie_assets.training.labels import REGRESSION_STRATEGIES
from pixie_assets.training.metrics import auc

RANKING_OBJECTIVES = frozenset({"rank:pairwise", "rank:ndcg", "rank:map"})
NO_EXAMPLES = "no labeled examples in the training window"


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
        raise TrainingDataError(NO_EXAMPLES)
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


@dataclass(frozen=True)
class FitPlan:
    """Every decision of a fit, taken once for every engine: the objective and booster
    parameters, the rounds, the early-stopping rule and whether to refit.

    ``early_stopping_rounds``: rounds without a better validation figure before stopping; the
    model keeps the best round. ``refit``: after early stopping on a held-back day, train again
    on all the days with the number of trees found."""

    feature_names: tuple[str, ...]
    objective: str
    params: dict[str, float]
    rounds: int
    seed: int = 0
    valid_fraction: float = 0.2
    early_stopping_rounds: int = DEFAULT_EARLY_STOPPING_ROUNDS
    refit: bool = False

    @property
    def regression(self) -> bool:
        return self.objective.startswith("reg:")

    @property
    def ranking(self) -> bool:
        """Grouped by request: the matrix carries query ids and no weights."""
        return self.objective in RANKING_OBJECTIVES

    @property
    def metric_columns(self) -> tuple[str, ...]:
        """What the metrics read of the rows besides the scores: the target and visit count."""
        acted = ("saved", "clicked", "closeup") if self.regression else ()
        return ("label", "visit_count", *acted)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the examples the fit reads: request ids (holdout, query groups),
        features, the metrics' columns and the weight."""
        return tuple(
            dict.fromkeys(("request_id", *self.feature_names, *self.metric_columns, "weight"))
        )

    def booster_params(self, threads: int | None) -> dict[str, Any]:
        """XGBoost's parameters; ``threads`` None leaves the thread count to the engine (a Dask
        worker uses its own threads)."""
        params: dict[str, Any] = {**self.params, "objective": self.objective, "seed": self.seed}
        if threads is not None:
            params["nthread"] = threads
        return params

    def stopping_params(self, threads: int | None, held_back_day: bool) -> dict[str, Any]:
        """The booster's parameters while it stops early. On a held-back day a binary model
        stops on AUC, not log loss: the newest day was sent by another champion, so its label
        rate and weights shift and the log loss turns up after a handful of trees (4 on the demo
        world's related_pins) while the ranking the model is used for keeps improving for dozens
        more. The random holdout keeps XGBoost's default metric."""
        params = self.booster_params(threads)
        if (
            held_back_day
            and "eval_metric" not in self.params
            and self.objective.startswith("binary:")
        ):
            params["eval_metric"] = "auc"
        return params


Rows = TypeVar("Rows")


class FitEngine(Protocol[Rows]):
    """Where a fit runs: how its rows (a pandas frame, a Dask frame) are split, counted, trained
    on and scored. Decisions belong to the ``FitPlan``, never to an engine."""

    def count(self, rows: Rows) -> int: ...

    def columns(self, rows: Rows, names: Sequence[str]) -> pd.DataFrame:
        """``names`` of the rows as a pandas frame in this process (at least those columns)."""
        ...

    def random_holdout(self, rows: Rows, fraction: float) -> tuple[Rows, Rows]:
        """(training, validation) by ``validation_mask`` of the request ids."""
        ...

    def threads(self, train_rows: int) -> int | None:
        """The ``nthread`` parameter for ``train_rows`` examples; None: the engine's own."""
        ...

    def train(
        self,
        plan: FitPlan,
        params: dict[str, Any],
        rows: Rows,
        rounds: int,
        valid: Rows | None = None,
    ) -> xgb.Booster:
        """``rounds`` rounds on ``rows``; with ``valid``, stopping early on it after
        ``plan.early_stopping_rounds`` rounds without a better figure."""
        ...

    def margins(self, plan: FitPlan, booster: xgb.Booster, rows: Rows) -> np.ndarray:
        """The booster's margins of ``rows``, in the order of ``columns``."""
        ...

    def union(self, first: Rows, second: Rows) -> Rows: ...


class InProcessEngine:
    """pandas frames and ``xgb.train`` in this process, with every core on large sets."""

    def count(self, rows: pd.DataFrame) -> int:
        return len(rows)

    def columns(self, rows: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        return rows

    def random_holdout(
        self, rows: pd.DataFrame, fraction: float
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        valid = validation_mask(rows["request_id"].to_numpy(), fraction)
        return rows[~valid], rows[valid]

    def threads(self, train_rows: int) -> int | None:
        return training_threads(train_rows)

    def train(
        self,
        plan: FitPlan,
        params: dict[str, Any],
        rows: pd.DataFrame,
        rounds: int,
        valid: pd.DataFrame | None = None,
    ) -> xgb.Booster:
        dtrain = _dmatrix(rows, plan.feature_names, plan.objective)
        if valid is None:
            return xgb.train(params, dtrain, num_boost_round=rounds)
        return xgb.train(
            params,
            dtrain,
            num_boost_round=rounds,
            evals=[(_dmatrix(valid, plan.feature_names, plan.objective), "valid")],
            early_stopping_rounds=plan.early_stopping_rounds,
            verbose_eval=False,
        )

    def margins(self, plan: FitPlan, booster: xgb.Booster, rows: pd.DataFrame) -> np.ndarray:
        return booster.inplace_predict(_matrix(rows, plan.feature_names), predict_type="margin")

    def union(self, first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([first, second], ignore_index=True)


def fit_early_stopped(
    engine: FitEngine[Rows], plan: FitPlan, examples: Rows, validation: Rows | None = None
) -> TrainedModel:
    """Train on ``examples`` (request_id, features, label, weight), stopping early on a
    validation set.

    Validation: ``validation`` when given and not empty — the caller holds back the newest day of
    its window, so the number of trees is the one that generalises to a day the model has not
    seen, which is its job tomorrow. Without it (a one-day window) a ``plan.valid_fraction`` of
    ``examples``' requests is held out; such a holdout shares the days (and users) of training,
    so its loss keeps falling and early stopping rarely triggers. With ``plan.refit`` (held-back
    day only) the model is trained again on examples + validation with the number of rounds
    found, so that the newest day, which is most like tomorrow, is not lost to validation; the
    validation metrics stay those of the early-stopped model, which did not see that day.

    Metrics: train/validation AUC of the model and of visit count on the same validation rows
    (binary labels; for a regression target, the label of "impressed and acted on"), rows,
    positives, ``best_iteration`` (trees kept), ``early_stopped`` (1 when fewer than
    ``plan.rounds``), ``validation_day`` (1 for a held-back day, 0 for the random request
    holdout) and ``refit``.
    """
    regression = plan.regression
    check_trainable(engine.columns(examples, ("label",)), regression)
    held_back_day = validation is not None and engine.count(validation) > 0
    if held_back_day:
        train_rows, valid_rows = examples, validation
    else:
        train_rows, valid_rows = engine.random_holdout(examples, plan.valid_fraction)
    rows_train = engine.count(train_rows)
    threads = engine.threads(rows_train)
    booster = engine.train(
        plan, plan.stopping_params(threads, held_back_day), train_rows, plan.rounds, valid_rows
    )
    booster = booster[: booster.best_iteration + 1]
    trees = booster.num_boosted_rounds()
    metrics = {
        "rows_train": float(rows_train),
        "rows_valid": float(engine.count(valid_rows)),
        "best_iteration": float(trees),
        "early_stopped": float(trees < plan.rounds),
        "validation_day": float(held_back_day),
    }
    valid_columns = engine.columns(valid_rows, plan.metric_columns)
    valid_target = _binary_target(valid_columns, regression)
    metrics.update(_auc_metrics(valid_target, engine.margins(plan, booster, valid_rows), "valid"))
    metrics["valid_auc_visit_count"] = auc(valid_target, valid_columns["visit_count"].to_numpy())
    if held_back_day and plan.refit:
        train_rows = engine.union(examples, validation)
        booster = engine.train(plan, plan.booster_params(threads), train_rows, trees)
        metrics["rows_train"] = float(engine.count(train_rows))
    metrics["refit"] = float(held_back_day and plan.refit)
    train_target = _binary_target(engine.columns(train_rows, plan.metric_columns), regression)
    metrics.update(_auc_metrics(train_target, engine.margins(plan, booster, train_rows), "train"))
    importance = {k: float(v) for k, v in booster.get_score(importance_type="total_gain").items()}
    return TrainedModel(booster, plan.objective, plan.feature_names, metrics, importance)


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
    """``fit_early_stopped`` in this process, for callers that hold their examples as a frame
    (replay, the tests); ``early_stopping_rounds`` None means the default, 20."""
    plan = FitPlan(
        feature_names,
        objective,
        params,
        rounds,
        seed,
        valid_fraction,
        early_stopping_rounds or DEFAULT_EARLY_STOPPING_ROUNDS,
        refit,
    )
    return fit_early_stopped(InProcessEngine(), plan, examples, validation)


def _auc_metrics(target: np.ndarray, margin: np.ndarray, name: str) -> dict[str, float]:
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


def client_plan(config: ClientConfig, strategy: str, feature_names: tuple[str, ...]) -> FitPlan:
    """How the loop and the strategy study fit a client's model for a label strategy: the
    strategy's ``training_objective``, the client's parameters and rounds, early stopping on the
    newest day of the window, then a refit on all of it."""
    return FitPlan(
        feature_names,
        training_objective(config, strategy),
        config.xgb_params,
        config.boost_rounds,
        early_stopping_rounds=config.early_stopping_rounds or DEFAULT_EARLY_STOPPING_ROUNDS,
        refit=True,
    )


def train_client_model(
    examples: pd.DataFrame, config: ClientConfig, strategy: str, feature_names: tuple[str, ...]
) -> TrainedModel:
    """One client's model for one label strategy, in this process (``client_plan``); the newest
    day of ``examples`` is held back for early stopping."""
    older, newest = hold_back_newest_day(examples)
    return fit_early_stopped(
        InProcessEngine(), client_plan(config, strategy, feature_names), older, newest
    )
