"""Off-policy estimators on hand-built logs whose answer is known, and by simulation of the real
serving funnel (``choose_for_full_ranker``) where it is known only in expectation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixie_assets.serving.funnel import choose_for_full_ranker, rank_within_requests
from pixie_assets.training.offpolicy import (
    LoggedPolicyError,
    estimate_top_m,
    logged_policy_match,
    logging_propensities,
    marginal_slot_value,
)


def _ranks(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    return rank_within_requests(group, score, np.zeros(len(group)))


def test_propensities_by_hand():
    # m = 4 with 2 exploration slots: the top 2 always go; the rest share 2 uniform draws.
    group = np.repeat([0, 1, 2], [10, 3, 5])
    rank = np.r_[np.arange(10), np.arange(3), np.arange(5)]
    p = logging_propensities(group, rank, m=4, explore_slots=2)
    np.testing.assert_allclose(p[:10], [1, 1] + [2 / 8] * 8)  # 8 below the cut, 2 draws
    np.testing.assert_allclose(p[10:13], [1, 1, 1])  # 3 candidates <= m: all sent
    np.testing.assert_allclose(p[13:], [1, 1, 2 / 3, 2 / 3, 2 / 3])
    # without exploration, whatever is below the top m can never be sent
    np.testing.assert_allclose(logging_propensities(group, rank, 4, 0)[:10], [1] * 4 + [0] * 6)
    # more slots than m: the funnel explores with all m
    np.testing.assert_allclose(logging_propensities(group, rank, 4, 9)[:10], [4 / 10] * 10)


def test_propensities_are_the_funnel_send_frequencies():
    """4,000 copies of a 10-candidate request through the real funnel (seed 20261101): the share
    of copies that sent each rank is within 4 binomial standard errors of its propensity
    (for p = 0.25: 4 × sqrt(0.25 × 0.75 / 4000) = 0.027)."""
    copies, n, m, e = 4_000, 10, 4, 2
    group = np.repeat(np.arange(copies), n)
    rank = np.tile(np.arange(n), copies)
    sent = choose_for_full_ranker(group, rank, m, e, np.random.default_rng(20261101))
    share = sent.reshape(copies, n).mean(axis=0)
    p = logging_propensities(group, rank, m, e)[:n]
    tolerance = 4 * np.sqrt(np.maximum(p * (1 - p), 1e-12) / copies)
    assert np.all(np.abs(share - p) <= tolerance), (share, p)
    assert logged_policy_match(group, logging_propensities(group, rank, m, e), sent) == 1.0


def test_logged_policy_match_counts_requests_the_policy_could_not_have_produced():
    group = np.repeat([0, 1, 2], 4)
    rank = np.tile(np.arange(4), 3)
    p = logging_propensities(group, rank, m=2, explore_slots=1)  # [1, 1/3, 1/3, 1/3] each
    sent = np.array([1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0], dtype=bool)
    # request 0 fits; request 1 fits (rank 0 + one draw); request 2 left out its rank-0 row
    assert logged_policy_match(group, p, sent) == pytest.approx(2 / 3)
    too_many = sent.copy()
    too_many[2] = True  # request 0 now sent 3 of 4 where the funnel sends exactly 2
    assert logged_policy_match(group, p, too_many) == pytest.approx(1 / 3)


def test_on_policy_target_gives_the_logged_mean_exactly():
    """No exploration and a target that ranks like the logging ranker: every estimator returns
    the observed actions per request, whatever the outcomes."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(3, 15, size=50)
    group = np.repeat(np.arange(50), sizes)
    logged = _ranks(group, rng.random(len(group)))
    m = 5
    p = logging_propensities(group, logged, m, 0)
    sent = logged < m
    y = np.column_stack([rng.integers(0, 2, len(group)), rng.integers(0, 3, len(group))])
    y = np.where(sent[:, None], y, 0)
    est = estimate_top_m(group, logged, logged, p, sent, y, m)
    observed = y.sum(axis=0) / 50
    for value in (est.ips, est.snips, est.dr):
        np.testing.assert_allclose(value, observed, rtol=0, atol=1e-12)
    assert est.support == 1.0 and est.overlap == 1.0 and est.requests == 50
    # the slot-adjusted estimand agrees on the logging policy's own set, whatever d is
    shown = sent & (rng.random(len(group)) < 0.5)
    slot = estimate_top_m(group, logged, logged, p, sent, y, m, shown=shown, slot_value=[0.3, 2])
    for value in (slot.ips, slot.snips, slot.dr):
        np.testing.assert_allclose(value, observed, rtol=0, atol=1e-12)


def test_marginal_slot_value_is_the_mean_outcome_on_each_request_last_impression():
    group = np.array([0, 0, 0, 1, 1, 2])
    shown = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    position = np.array([1, 0, -1, 0, -1, -1])
    y = np.array([[4.0, 1], [9, 9], [9, 9], [2, 0], [9, 9], [9, 9]])
    # request 0's last impression is row 0 (position 1), request 1's row 3; request 2 showed none
    np.testing.assert_allclose(marginal_slot_value(group, shown, position, y), [3.0, 0.5])
    assert np.isnan(marginal_slot_value(group, np.zeros(6, bool), position, y)).all()
    with pytest.raises(ValueError):
        estimate_top_m(group, np.arange(6), np.arange(6), np.ones(6), shown, y, 2, shown=shown)


def test_target_outside_the_logged_support_is_not_a_number():
    group = np.repeat([0, 1], 6)
    logged = np.tile(np.arange(6), 2)
    target = np.tile(np.arange(6)[::-1], 2)  # wants the candidates the log never sends
    p = logging_propensities(group, logged, 3, 0)
    est = estimate_top_m(group, target, logged, p, logged < 3, np.ones(12), 3)
    assert all(math.isnan(float(v[0])) for v in (est.ips, est.snips, est.dr))
    assert est.support == 0.0 and est.overlap == 0.0


def test_a_row_sent_with_propensity_zero_is_rejected():
    group = np.zeros(3, dtype=int)
    with pytest.raises(LoggedPolicyError):
        estimate_top_m(group, np.arange(3), np.arange(3), [1.0, 0.0, 0.0], [1, 1, 0], [0, 1, 0], 2)


def test_doubly_robust_with_the_true_reward_is_exact():
    """Deterministic outcomes and a reward model equal to them: every exploration draw gives the
    true value (the correction term is zero row by row)."""
    rng = np.random.default_rng(11)
    group = np.repeat(np.arange(40), 20)
    logged = _ranks(group, rng.random(len(group)))
    target = _ranks(group, rng.random(len(group)))
    truth = rng.integers(0, 2, len(group)).astype(float)
    m, e = 6, 3
    p = logging_propensities(group, logged, m, e)
    value = truth[target < m].sum() / 40
    for seed in range(5):
        sent = choose_for_full_ranker(group, logged, m, e, np.random.default_rng(seed))
        y = np.where(sent, truth, 0.0)
        est = estimate_top_m(group, target, logged, p, sent, y, m, reward=truth)
        assert est.dr[0] == pytest.approx(value, abs=1e-12)


def _simulated_world(seed: int):
    """300 requests of 12–30 candidates with known outcome rates; the logging and the target
    rankers both see the rate through independent noise (they disagree often)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(12, 31, size=300)
    group = np.repeat(np.arange(300), sizes)
    rate = rng.beta(0.6, 3.0, size=len(group))
    logged = _ranks(group, rate + rng.normal(0, 0.2, len(group)))
    target = _ranks(group, rate + rng.normal(0, 0.1, len(group)))
    return group, rate, logged, target


def test_estimators_are_unbiased_over_exploration_and_outcome_draws():
    """400 replications of exploration (the real funnel) and Bernoulli outcomes, seed 20261102:
    the mean IPS and DR estimate is within 4 standard errors of the mean (sd / sqrt(400)) of the
    true value sum of rates of the target's top m per request; SNIPS, biased by O(1/N), within 4
    standard errors plus 1% of the value. DR is also the less variable of IPS and DR here."""
    group, rate, logged, target = _simulated_world(5)
    m, e = 8, 3
    p = logging_propensities(group, logged, m, e)
    value = rate[target < m].sum() / 300
    rng = np.random.default_rng(20261102)
    draws = []
    for _ in range(400):
        sent = choose_for_full_ranker(group, logged, m, e, rng)
        y = np.where(sent, rng.random(len(group)) < rate, 0).astype(float)
        est = estimate_top_m(group, target, logged, p, sent, y, m)
        draws.append((est.ips[0], est.snips[0], est.dr[0]))
    draws = np.array(draws)
    mean, sd = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    se = sd / np.sqrt(len(draws))
    assert abs(mean[0] - value) < 4 * se[0], (mean, value, se)
    assert abs(mean[2] - value) < 4 * se[2], (mean, value, se)
    assert abs(mean[1] - value) < 4 * se[1] + 0.01 * value, (mean, value, se)
    assert sd[2] < sd[0], sd


def test_reported_standard_error_matches_the_spread_over_draws():
    """The per-request standard error of one draw (sd / sqrt(N)) estimates the spread of the
    estimate over draws: within a factor 1.5 for IPS and DR (200 draws, seed 20261103)."""
    group, rate, logged, target = _simulated_world(6)
    m, e = 8, 3
    p = logging_propensities(group, logged, m, e)
    rng = np.random.default_rng(20261103)
    values, ses = [], []
    for _ in range(200):
        sent = choose_for_full_ranker(group, logged, m, e, rng)
        y = np.where(sent, rng.random(len(group)) < rate, 0).astype(float)
        est = estimate_top_m(group, target, logged, p, sent, y, m)
        values.append((est.ips[0], est.dr[0]))
        ses.append((est.ips_se[0], est.dr_se[0]))
    ratio = np.mean(ses, axis=0) / np.std(values, axis=0, ddof=1)
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), ratio


def test_slot_adjusted_estimates_respect_the_shown_slots():
    """A funnel whose full ranker shows k = 2 of the m = 6 sent (the best by value; a shown
    candidate is acted on with probability = its value). The additive estimate credits every
    member of a stronger target's top m with the outcome it had against the weaker logging set
    (where it usually won a slot), so it exaggerates the gain several-fold; the slot-adjusted one
    charges each win the marginal impression it displaces. Over 100 draws (seeds 8 and 1; the
    means' standard errors are below 0.01 when written) the slot-adjusted mean is the nearer to
    the truth for a better, the logging and a worse target, and both order them like the truth.
    """
    rng = np.random.default_rng(8)
    requests, n, m, e, k = 300, 20, 6, 2, 2
    group = np.repeat(np.arange(requests), n)
    value = rng.beta(1.0, 4.0, len(group))
    logged = _ranks(group, value + rng.normal(0, 0.25, len(group)))
    targets = {
        "better": _ranks(group, value + rng.normal(0, 0.05, len(group))),
        "logging": logged,
        "worse": _ranks(group, value + rng.normal(0, 0.6, len(group))),
    }
    p = logging_propensities(group, logged, m, e)

    def truth(target: np.ndarray) -> float:
        chosen = target < m
        shown = chosen & (_ranks(group, np.where(chosen, value, -1.0)) < k)
        return float(value[shown].sum() / requests)

    draws = np.random.default_rng(1)
    sums = {name: np.zeros(2) for name in targets}
    for _ in range(100):
        sent = choose_for_full_ranker(group, logged, m, e, draws)
        full_rank = _ranks(group, np.where(sent, value, -1.0))
        shown = sent & (full_rank < k)
        y = (shown & (draws.random(len(group)) < value)).astype(float)
        d = marginal_slot_value(group, shown, np.where(shown, full_rank, -1), y)
        for name, target in targets.items():
            plain = estimate_top_m(group, target, logged, p, sent, y, m)
            slot = estimate_top_m(group, target, logged, p, sent, y, m, shown=shown, slot_value=d)
            sums[name] += (plain.dr[0], slot.dr[0])
    means = {name: total / 100 for name, total in sums.items()}
    truths = {name: truth(target) for name, target in targets.items()}
    for name in targets:
        plain, slot = means[name]
        assert abs(slot - truths[name]) < abs(plain - truths[name]), (name, means, truths)
    for column in (0, 1):
        order = sorted(targets, key=lambda name: means[name][column])
        assert order == sorted(targets, key=truths.get), (column, means, truths)
