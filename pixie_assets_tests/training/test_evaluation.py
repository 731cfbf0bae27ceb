"""Evaluation metrics of a ranker on hand-computed logged outcomes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from pixie_assets.core import clients
from pixie_assets.core.clients import ClientConfig
from pixie_assets.training.evaluation import (
    Ranker,
    evaluate_rankers,
    has_impressions,
    log_metrics,
    offpolicy_metrics,
    top_m,
    visit_count_ranker,
)

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


# --- off-policy estimates on a hand-built log --------------------------------------------------

# M = 2 with 1 exploration slot: each request's top 1 by the logged lightweight score is sent,
# plus one uniform draw among its other 3 candidates (propensity 1/3); k = 2: both are shown.
OPE_CONFIG = dataclasses.replace(CONFIG, explore_slots=1, shown_k=2)
SENT = [True, False, True, False, True, False, False, True]  # r1 explored c, r2 explored d
LOGGED = OUTCOMES.assign(
    lightweight_score=[4.0, 3.0, 2.0, 1.0, 4.0, 3.0, 2.0, 1.0],
    visit_rank=[1, 2, 3, 4, 1, 2, 3, 4],
    sent_to_full_ranker=SENT,
    impressed=SENT,
    position=[0, -1, 1, -1, 0, -1, -1, 1],
    saved=[1, 0, 0, 0, 0, 0, 0, 1],  # r1 saved a, r2 saved its explored d
)


def test_offpolicy_estimates_by_hand():
    # The logging ranker itself: top 2 = a (sent, p 1) and b (not sent) per request.
    # IPS per request: r1 1/1 = 1, r2 0 → 0.5. Two sent weights (1 + 1) stand for 4 slots, so
    # SNIPS is 0.5 × 4 / 2 = 1.0.
    m = offpolicy_metrics(LOGGED, SCORES, OPE_CONFIG)
    assert m["ips/save_per_request"] == pytest.approx(0.5)
    assert m["snips/save_per_request"] == pytest.approx(1.0)
    assert m["ope/support"] == 1.0 and m["ope/overlap"] == pytest.approx(2 / 4)
    assert m["ope/logged_policy_match"] == 1.0
    # A ranker that prefers the bottom two: r1 c (explored, not saved, weight 3) and d; r2 c and
    # d (explored, saved, weight 3): per request 0 and 3, IPS 1.5 with standard error 1.5;
    # SNIPS 1.5 × 4 / 6 = 1.0.
    reverse = -SCORES
    m = offpolicy_metrics(LOGGED, reverse, OPE_CONFIG)
    assert m["ips/save_per_request"] == pytest.approx(1.5)
    assert m["ips_se/save_per_request"] == pytest.approx(1.5)
    assert m["snips/save_per_request"] == pytest.approx(1.0)
    # Slot-adjusted: a marginal impression (each request's last: c unsaved, d saved) is worth
    # d = 0.5, so z = save − 0.5 on every impression and each request adds 2 × 0.5. Reverse:
    # r1 3 × (0 − 0.5) + 1 = −0.5, r2 3 × (1 − 0.5) + 1 = 2.5 → 1.0. Both rankers fill the same
    # two slots; the additive estimate credits the reverse ranker with a save per request more.
    assert m["ips_slot/save_per_request"] == pytest.approx(1.0)
    # the logging ranker: r1 (1 − 0.5) + 1 = 1.5, r2 (0 − 0.5) + 1 = 0.5 → 1.0
    m = offpolicy_metrics(LOGGED, SCORES, OPE_CONFIG)
    assert m["ips_slot/save_per_request"] == pytest.approx(1.0)
    expected = {
        f"{f}/{a}_per_request"
        for f in ("ips", "snips", "dr", "ips_slot", "snips_slot", "dr_slot")
        for a in ("save", "click", "closeup")
    }
    assert set(m) >= expected


def test_offpolicy_estimates_are_not_numbers_for_logs_the_funnel_could_not_write():
    # OUTCOMES sends 4 of r1's candidates where the funnel sends exactly M = 2
    logs = OUTCOMES.assign(lightweight_score=SCORES, visit_rank=1, position=-1, impressed=False)
    m = offpolicy_metrics(logs, SCORES, OPE_CONFIG)
    assert m["ope/logged_policy_match"] < 1
    assert math.isnan(m["ips/save_per_request"]) and math.isnan(m["dr_slot/save_per_request"])


def test_logs_with_exploration_judged_as_if_there_were_none_give_no_estimate():
    # LOGGED explored c and d, which a funnel without exploration slots never sends
    m = offpolicy_metrics(LOGGED, SCORES, dataclasses.replace(OPE_CONFIG, explore_slots=0))
    assert m["ope/logged_policy_match"] == 0.0
    assert math.isnan(m["dr/save_per_request"]) and math.isnan(m["ips_slot/save_per_request"])


def test_offpolicy_estimates_without_exploration():
    """No exploration slots: the logging ranker's own top M is fully observed and every
    estimator gives the logged saves per request; anything else is not identified (NaN), and
    promotion then has to fall back (test_promotion)."""
    config = dataclasses.replace(OPE_CONFIG, explore_slots=0)
    sent = [True, True, False, False] * 2
    logged = LOGGED.assign(sent_to_full_ranker=sent, impressed=sent, position=[0, 1, -1, -1] * 2)
    on_policy = offpolicy_metrics(logged, SCORES, config)
    for family in ("ips", "snips", "dr", "ips_slot", "dr_slot"):
        assert on_policy[f"{family}/save_per_request"] == pytest.approx(0.5)  # r1 saved a
    other = offpolicy_metrics(logged, -SCORES, config)
    assert math.isnan(other["dr/save_per_request"]) and other["ope/support"] == 0.0


def test_serving_ties_are_broken_by_visit_rank():
    # visit count ties a and b in each request; serving sends the better visit rank (b here)
    tied = LOGGED.assign(visit_rank=[2, 1, 3, 4, 2, 1, 3, 4])
    scores = np.array([5.0, 5.0, 1.0, 0.0, 5.0, 5.0, 1.0, 0.0])
    assert top_m(tied, scores, 1)["pin_id"].tolist() == [2, 6]


@pytest.mark.parametrize("client", sorted(clients.CLIENTS))
def test_every_client_promotes_on_metrics_the_evaluation_reports(client):
    config = clients.CLIENTS[client]
    reported = log_metrics(LOGGED, SCORES, config) | offpolicy_metrics(LOGGED, SCORES, config)
    assert set(config.promotion_metrics) <= set(reported)


# --- evaluate_rankers: one entry point, the simulation handed in -------------------------------


def test_evaluate_rankers_reports_log_and_offpolicy_figures_of_each_ranker_in_order():
    rankers = [visit_count_ranker(LOGGED.assign(visit_count=SCORES)), Ranker("rev", "v2", -SCORES)]
    evaluations = evaluate_rankers(LOGGED, rankers, OPE_CONFIG)
    assert [(e.name, e.version) for e in evaluations] == [
        ("visit_count", "visit_count"),
        ("rev", "v2"),
    ]
    for evaluation, scores in zip(evaluations, (SCORES, -SCORES), strict=True):
        expected = log_metrics(LOGGED, scores, OPE_CONFIG) | offpolicy_metrics(
            LOGGED, scores, OPE_CONFIG
        )
        assert evaluation.metrics.keys() == expected.keys()
        np.testing.assert_equal(list(evaluation.metrics.values()), list(expected.values()))
    assert not any(k.startswith("sim/") for k in evaluations[0].metrics)


def test_evaluate_rankers_adds_what_simulate_returns_for_each_ranker():
    seen = []

    def simulate(outcomes: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
        seen.append((outcomes, scores))
        return {"sim/primary_per_request": float(scores[0])}

    rankers = [Ranker("a", "a", SCORES), Ranker("b", "b", -SCORES)]
    evaluations = evaluate_rankers(LOGGED, rankers, OPE_CONFIG, simulate=simulate)
    assert [e.metrics["sim/primary_per_request"] for e in evaluations] == [4.0, -4.0]
    assert all(outcomes is LOGGED for outcomes, _ in seen)
    assert [scores[0] for _, scores in seen] == [4.0, -4.0]


def test_has_impressions():
    assert has_impressions(OUTCOMES)
    assert not has_impressions(OUTCOMES.assign(impressed=False))
    assert not has_impressions(OUTCOMES.iloc[:0])
