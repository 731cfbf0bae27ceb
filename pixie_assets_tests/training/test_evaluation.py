"""Evaluation metrics of a ranker on hand-computed logged outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pixie_assets.clients import ClientConfig
from pixie_assets.training.evaluation import log_metrics, top_m

CONFIG = ClientConfig(
    "homefeed",
    requests_per_1k_users=1,
    query="recent_engagements",
    full_ranker_m=2,
    shown_k=1,
    label_action_weights={"save": 5.0, "click": 1.0, "closeup": 1.0},
    primary_actions=("save",),
    primary_metric="auc_sent/save",
)

# Two requests of four candidates. The ranker's order is pin a > b > c > d within each request.
OUTCOMES = pd.DataFrame(
    {
        "request_id": ["r1"] * 4 + ["r2"] * 4,
        "user_id": [1] * 4 + [2] * 4,
        "ts": pd.Timestamp("2026-11-03"),
        "pin_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "sent_to_full_ranker": [True, True, True, True, False, True, True, True],
        "impressed": [True, True, False, True, False, True, True, False],
        "saved": [1, 0, 0, 0, 0, 0, 1, 0],
        "clicked": [0, 1, 0, 0, 0, 0, 0, 0],
        "closeup": [0, 0, 0, 0, 0, 0, 0, 0],
        "hidden": [0, 0, 0, 0, 0, 0, 0, 0],
        "locale_match": [1, 0, 1, 1, 0, 0, 1, 1],
    }
)
SCORES = np.array([4.0, 3.0, 2.0, 1.0, 4.0, 3.0, 2.0, 1.0])


def test_metrics_on_a_hand_computed_ranking():
    m = log_metrics(OUTCOMES, SCORES, CONFIG)
    # impressed rows: r1 a(4, saved) b(3) d(1); r2 b(3) c(2, saved). Saved scores {4, 2} vs
    # unsaved {3, 1, 3}: pairs won 4>3,4>1,4>3, 2>1 → 4 of 6.
    assert m["auc_impressed/save"] == pytest.approx(4 / 6)
    # sent rows add r1 c(2) and r2 d(1), both unsaved: saved {4, 2} vs {3, 2, 1, 3, 1}:
    # 4 wins 5; 2 wins 2 (over the 1s) and ties 1 (half): 7.5 of 10.
    assert m["auc_sent/save"] == pytest.approx(7.5 / 10)
    # saves: r1 rank 0 (in top 2), r2 rank 2 (out): 1 of 2
    assert m["recall_at_m/save"] == pytest.approx(0.5)
    # impressions in the top 2: r1 a, b; r2 b → 3 of 5 impressions
    assert m["funnel_efficiency"] == pytest.approx(3 / 5)
    # top 2 rows: r1 a(local) b; r2 a b → 1 local of 4
    assert m["local_share_top_m"] == pytest.approx(1 / 4)
    # NDCG@1, gains save 5 / click 1: r1 best gain 5 at rank 0 → 1; r2 gain 5 at rank 2, top-1
    # holds gain 0 → 0. Mean 0.5.
    assert m["ndcg_at_k"] == pytest.approx(0.5)


def test_a_perfect_ranker_scores_one():
    perfect = OUTCOMES["saved"].to_numpy() * 10.0 + OUTCOMES["impressed"].to_numpy()
    m = log_metrics(OUTCOMES, perfect, CONFIG)
    assert m["auc_impressed/save"] == 1.0 and m["auc_sent/save"] == 1.0
    assert m["recall_at_m/save"] == 1.0 and m["ndcg_at_k"] == 1.0


def test_one_class_auc_is_not_a_number():
    no_saves = OUTCOMES.assign(saved=0)
    assert math.isnan(log_metrics(no_saves, SCORES, CONFIG)["auc_sent/save"])


def test_top_m_keeps_each_request_best_m():
    sent = top_m(OUTCOMES, SCORES, 2)
    assert sent["pin_id"].tolist() == [1, 2, 5, 6]
