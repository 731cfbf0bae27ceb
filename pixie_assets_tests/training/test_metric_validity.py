"""Rank correlation of offline metrics with the simulated truth, on hand-built evaluations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pixie_assets.training.metric_validity import (
    TRUTH,
    average_ranks,
    generic_metric_names,
    metric_truth_correlations,
    relative_differences,
    spearman,
)


def test_spearman_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 35, 1000]) == pytest.approx(1.0)  # monotone, not linear
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share ranks: x ranks [1, 2.5, 2.5, 4]; centred products 2.25 + 2.25 over sqrt(4.5 × 5)
    assert average_ranks([1, 2, 2, 3]).tolist() == [1, 2.5, 2.5, 4]
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    # missing values drop their pair; no variation or fewer than two pairs: undefined
    assert spearman([1, np.nan, 3, 2], [1, 5, 3, 2]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, np.nan], [1, 2]))


def test_client_metric_names_become_shared_names():
    homefeed = {
        "auc_sent/save": 0.7,
        "auc_sent/click": 0.6,
        "auc_sent/any_action": 0.65,
        "recall_at_m/save": 0.3,
        "ndcg_at_k": 0.4,
        "dr/save_per_request": 1.8,
        "dr/click_per_request": 0.9,
        "dr_se/save_per_request": 0.05,
        "sim/save_per_request": 1.7,
        "sim/primary_per_request": 1.7,
    }
    assert generic_metric_names(homefeed, "save") == {
        "auc_sent/primary": 0.7,
        "auc_sent/any_action": 0.65,
        "recall_at_m/primary": 0.3,
        "ndcg_at_k": 0.4,
        "dr/primary_per_request": 1.8,
        "dr_se/primary_per_request": 0.05,
        "sim/primary_per_request": 1.7,
    }
    related = {"auc_sent/click_closeup": 0.7, "auc_sent/click": 0.6, "ips/save_per_request": 0.1}
    assert generic_metric_names(related, "click_closeup") == {"auc_sent/primary": 0.7}


def _rows() -> pd.DataFrame:
    """Two clients × three days. Day 1 has no challenger yet (no champion either: visit count
    alone); on day 2 the baseline is visit count, on day 3 the champion. ``good`` orders the
    rankers like the truth, ``logging`` always favours whichever ranker is champion."""
    truth = {
        ("d1", "a"): {"visit_count": 1.0},
        ("d2", "a"): {"visit_count": 1.0, "challenger": 1.3},
        ("d3", "a"): {"visit_count": 1.0, "champion": 1.3, "challenger": 1.2},
        ("d1", "b"): {"visit_count": 0.2},
        ("d2", "b"): {"visit_count": 0.2, "challenger": 0.21},
        ("d3", "b"): {"visit_count": 0.2, "champion": 0.21, "challenger": 0.25},
    }
    rows = []
    for (day, client), rankers in truth.items():
        for ranker, value in rankers.items():
            rows.append(
                {
                    "day": day,
                    "client": client,
                    "ranker": ranker,
                    TRUTH: value,
                    "good": value * 2 + 0.1,
                    "logging": 0.9 if ranker == "champion" else 0.5,
                }
            )
    return pd.DataFrame(rows)


def test_relative_differences_compare_the_challenger_with_its_baseline():
    diffs = relative_differences(_rows(), ["good"], TRUTH).set_index(["day", "client"])
    assert len(diffs) == 4  # day 1 has no challenger
    assert diffs.loc[("d2", "a"), "baseline"] == "visit_count"
    assert diffs.loc[("d3", "a"), "baseline"] == "champion"
    assert diffs.loc[("d3", "a"), TRUTH] == pytest.approx((1.2 - 1.3) / 1.3)
    assert diffs.loc[("d3", "b"), TRUTH] == pytest.approx((0.25 - 0.21) / 0.21)


def test_a_metric_that_orders_like_the_truth_scores_one_and_a_logging_favourite_does_not():
    table = metric_truth_correlations(_rows(), ["good", "logging"], seed=1, bootstrap_draws=200)
    good = table.set_index("metric").loc["good"]
    assert good["pooled"] == pytest.approx(1.0) and good["within"] == pytest.approx(1.0)
    assert good["diff"] == pytest.approx(1.0) and good["diff_sign"] == 1.0
    assert good["pairs"] == 4 and good["rows"] == 12
    logging = table.set_index("metric").loc["logging"]
    # it says the challenger loses whenever there is a champion; the truth says so only on d3/a
    assert logging["diff_sign"] == pytest.approx(1 / 4)
    # weighted by the truth's differences 0.3, 0.05, 1/13 (the one it gets right), 4/21
    sizes = np.array([0.3, 0.05, 1 / 13, 4 / 21])
    assert logging["diff_sign_weighted"] == pytest.approx(sizes[2] / sizes.sum())
    assert good["diff_sign_weighted"] == 1.0
    # good = 2 × truth + 0.1: its relative differences are the truth's, times 2v / (2v + 0.1)
    assert 0.8 < good["diff_scale"] < 1.0
    assert table["metric"].tolist()[0] == "good"  # sorted best first
    assert good["diff_low"] <= good["diff"] <= good["diff_high"]


def test_extra_contenders_of_a_day_are_compared_with_the_same_baseline():
    rows = _rows()
    arm = rows[(rows["day"] == "d3") & (rows["ranker"] == "challenger")].assign(ranker="arm:x")
    arm[TRUTH] = arm[TRUTH] * 0.5
    arm["good"] = arm["good"] * 0.5
    diffs = relative_differences(pd.concat([rows, arm]), ["good"], TRUTH)
    d3 = diffs[diffs["day"] == "d3"].set_index(["client", "contender"])
    assert len(diffs) == 6 and set(d3["baseline"]) == {"champion"}
    assert d3.loc[("a", "arm:x"), TRUTH] == pytest.approx((0.6 - 1.3) / 1.3)
    table = metric_truth_correlations(pd.concat([rows, arm]), ["good"], bootstrap_draws=50)
    assert table.loc[0, "pairs"] == 6 and table.loc[0, "diff_sign"] == 1.0
