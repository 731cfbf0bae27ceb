"""Training with early stopping on a held-back day, and the old random-holdout fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pixie_assets.training.fit import hold_back_newest_day, train_lightweight_model

FEATURES = ("signal", "day_quirk", "visit_count")
# Small, slow trees: on a random holdout of the same days they keep improving for 100+ rounds.
PARAMS = {"max_depth": 2, "eta": 0.05, "min_child_weight": 1.0, "lambda": 1.0}


def _day(day: str, seed: int, quirk_sign: float, requests: int = 300) -> pd.DataFrame:
    """One day of examples: the label follows ``signal`` on every day, and ``day_quirk`` on this
    day only (its sign flips between days), as a feature that drifts would."""
    rng = np.random.default_rng(seed)
    n = requests * 10
    signal, quirk = rng.normal(size=n), rng.normal(size=n)
    logit = 1.2 * signal + quirk_sign * 0.6 * quirk - 1.0
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame(
        {
            "day": pd.Timestamp(day),
            "request_id": [f"{day}-{i // 10}" for i in range(n)],
            "signal": signal,
            "day_quirk": quirk,
            "visit_count": rng.poisson(3, n).astype(float),
            "label": label,
            "weight": 1.0,
        }
    )


@pytest.fixture(scope="module")
def window() -> pd.DataFrame:
    return pd.concat(
        [_day("2026-11-01", 1, 1.0), _day("2026-11-02", 2, 1.0), _day("2026-11-03", 3, -1.0)],
        ignore_index=True,
    )


def test_the_newest_day_is_held_back_and_a_single_day_is_not(window):
    older, newest = hold_back_newest_day(window)
    assert set(older["day"].dt.day) == {1, 2} and set(newest["day"].dt.day) == {3}
    one_day = window[window["day"] == window["day"].min()]
    same, none = hold_back_newest_day(one_day)
    assert none is None and len(same) == len(one_day)
    assert hold_back_newest_day(pd.DataFrame())[1] is None


def test_a_held_back_day_stops_training_early(window):
    """What the random holdout misses: on the held-back day the trees that learned the older
    days' quirk hurt, so the validation AUC turns early (2 of 200 rounds when written), while a
    random request holdout of the same days, which shares the quirk, keeps improving (153)."""
    older, newest = hold_back_newest_day(window)
    trained = train_lightweight_model(
        older, FEATURES, "binary:logistic", PARAMS, 200, validation=newest, early_stopping_rounds=20
    )
    m = trained.metrics
    assert m["validation_day"] == 1.0 and m["early_stopped"] == 1.0
    assert m["best_iteration"] < 60
    assert trained.booster.num_boosted_rounds() == m["best_iteration"]
    assert m["rows_train"] == len(older) and m["rows_valid"] == len(newest)
    fallback = train_lightweight_model(older, FEATURES, "binary:logistic", PARAMS, 200, 0, 0.2)
    assert fallback.metrics["validation_day"] == 0.0
    assert fallback.metrics["best_iteration"] > 100


def test_a_base_rate_shift_on_the_held_back_day_does_not_stop_a_ranker_early():
    """The newest day was sent by another champion: more of it is positive, the ranking by
    ``signal`` is the same. Log loss on it turns after 27 trees (when written) while the AUC keeps
    improving to 55: the held-back day stops on AUC, and ends with the better ranking of that
    day."""
    rng = np.random.default_rng(4)
    frames = []
    for day, intercept in (("2026-11-01", -1.5), ("2026-11-02", -1.5), ("2026-11-03", 0.5)):
        n = 3_000
        signal = rng.normal(size=n)
        label = rng.random(n) < 1 / (1 + np.exp(-(2.4 * np.tanh(signal) + intercept)))
        frames.append(
            pd.DataFrame(
                {
                    "day": pd.Timestamp(day),
                    "request_id": [f"{day}-{i // 10}" for i in range(n)],
                    "signal": signal,
                    "day_quirk": rng.normal(size=n),
                    "visit_count": rng.poisson(3, n).astype(float),
                    "label": label.astype(float),
                    "weight": 1.0,
                }
            )
        )
    older, newest = hold_back_newest_day(pd.concat(frames, ignore_index=True))
    by_auc = train_lightweight_model(
        older, FEATURES, "binary:logistic", PARAMS, 200, validation=newest, early_stopping_rounds=20
    )
    by_loss = train_lightweight_model(
        older,
        FEATURES,
        "binary:logistic",
        {**PARAMS, "eval_metric": "logloss"},
        200,
        validation=newest,
        early_stopping_rounds=20,
    )
    assert by_auc.metrics["best_iteration"] > 2 * by_loss.metrics["best_iteration"]
    assert by_auc.metrics["valid_auc"] > by_loss.metrics["valid_auc"]


def test_refit_trains_on_the_whole_window_with_the_rounds_found(window):
    older, newest = hold_back_newest_day(window)
    kept = train_lightweight_model(
        older, FEATURES, "binary:logistic", PARAMS, 200, validation=newest, early_stopping_rounds=20
    )
    refit = train_lightweight_model(
        older,
        FEATURES,
        "binary:logistic",
        PARAMS,
        200,
        validation=newest,
        early_stopping_rounds=20,
        refit=True,
    )
    assert refit.metrics["refit"] == 1.0 and kept.metrics["refit"] == 0.0
    assert refit.booster.num_boosted_rounds() == kept.metrics["best_iteration"]
    assert refit.metrics["rows_train"] == len(window)
    # validation figures are the early-stopped model's, which never saw the held-back day
    assert refit.metrics["valid_auc"] == kept.metrics["valid_auc"]
    scores = refit.booster.inplace_predict(
        newest[list(FEATURES)].to_numpy(np.float32), predict_type="margin"
    )
    assert not np.allclose(
        scores,
        kept.booster.inplace_predict(
            newest[list(FEATURES)].to_numpy(np.float32), predict_type="margin"
        ),
    )


def test_positional_parameters_keep_working(window):
    """replay/pipeline.py calls (examples, features, objective, params, rounds, seed=...)."""
    trained = train_lightweight_model(window, FEATURES, "binary:logistic", PARAMS, 30, 3, 0.25)
    assert trained.metrics["validation_day"] == 0.0 and trained.metrics["refit"] == 0.0
    assert trained.metrics["rows_valid"] == pytest.approx(0.25 * len(window), rel=0.2)


def test_small_training_sets_use_one_thread():
    from pixie_assets.training.fit import PARALLEL_TRAINING_ROWS, training_threads

    assert training_threads(16_000) == 1
    assert training_threads(PARALLEL_TRAINING_ROWS) == 0  # all cores


def test_one_objective_rule_for_every_strategy():
    from pixie_assets.core.clients import CLIENTS
    from pixie_assets.training.fit import is_regression_strategy, training_objective
    from pixie_assets.training.labels import STRATEGIES

    config = CLIENTS["homefeed"]
    assert [s for s in STRATEGIES if is_regression_strategy(s)] == ["distillation"]
    assert training_objective(config, "distillation") == "reg:squarederror"
    for strategy in ("engagement", "funnel_pure", "funnel_blended"):
        assert training_objective(config, strategy) == config.objective
