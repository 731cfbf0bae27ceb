"""The funnel: ranking within requests and the exploration slots sent to the full ranker."""

from __future__ import annotations

import numpy as np

from pixie_assets.serving.funnel import choose_for_full_ranker, rank_within_requests


def test_rank_within_requests_descending_with_tiebreak():
    codes = np.array([0, 0, 0, 1, 1])
    score = np.array([1.0, 3.0, 3.0, 0.5, 2.0])
    tiebreak = np.array([0, 2, 1, 0, 0])
    assert rank_within_requests(codes, score, tiebreak).tolist() == [2, 1, 0, 1, 0]


def test_exploration_sends_top_m_minus_e_plus_e_random_from_below_the_cut():
    rng = np.random.default_rng(0)
    n_requests, per_request, m, explore = 300, 20, 6, 2
    codes = np.repeat(np.arange(n_requests), per_request)
    rank = np.tile(np.arange(per_request), n_requests)
    sent = choose_for_full_ranker(codes, rank, m, explore, rng)
    per = sent.reshape(n_requests, per_request)
    assert (per.sum(axis=1) == m).all()
    assert per[:, : m - explore].all()  # the exploit part is always sent
    explored = per[:, m - explore :]
    # uniform over the 16 ranks below the cut: each is picked with probability 2/16 = 0.125;
    # over 300 requests the per-rank share stays within ±0.06 (about 3 standard errors).
    assert np.allclose(explored.mean(axis=0), explore / (per_request - m + explore), atol=0.06)


def test_no_exploration_is_plain_top_m():
    codes = np.zeros(5, dtype=int)
    rank = np.array([4, 0, 3, 1, 2])
    sent = choose_for_full_ranker(codes, rank, 2, 0, np.random.default_rng(0))
    assert sent.tolist() == [False, True, False, True, False]
