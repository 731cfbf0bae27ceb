"""Ranking metrics on hand-computed cases, against sklearn, and on edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from pixie_assets.training.metrics import (
    auc,
    captured_at_k,
    hit_rate_at_k,
    mean_per_group,
    ndcg_at_k,
    per_group_recall_at_k,
    ranks_within_groups,
    recall_at_k,
    top_k_share,
)

# Shared hand case: three groups, a tie inside group 0 and group 1, group 2 all-negative.
#
# row  group  score  rank  relevant  gain
#   0      0    0.9     0         0     0
#   1      0    0.5     1         0     0   <- tie with row 2, earlier row ranks first
#   2      0    0.5     2         1     2
#   3      0    0.1     3         1     1
#   4      1    0.3     1         1     1   <- tie with row 6, earlier row ranks first
#   5      1    0.8     0         0     0
#   6      1    0.3     2         0     3
#   7      2    0.2     1         0     0
#   8      2    0.7     0         0     0
GROUP = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
SCORES = np.array([0.9, 0.5, 0.5, 0.1, 0.3, 0.8, 0.3, 0.2, 0.7])
RANKS = np.array([0, 1, 2, 3, 1, 0, 2, 1, 0])
RELEVANT = np.array([0, 0, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
GAINS = np.array([0, 0, 2, 1, 1, 0, 3, 0, 0], dtype=float)

EMPTY = np.array([], dtype=float)
EMPTY_GROUP = np.array([], dtype=np.int64)


def _d(rank: int) -> float:
    """DCG discount of a 0-based rank."""
    return 1.0 / math.log2(rank + 2)


# --------------------------------------------------------------------------- ranks


def test_ranks_hand_case_with_ties():
    np.testing.assert_array_equal(ranks_within_groups(GROUP, SCORES), RANKS)


def test_ranks_interleaved_string_groups():
    # group "a": rows 1 (2.0), 3 (2.0) tie -> row 1 rank 0, row 3 rank 1
    # group "b": rows 0 (1.0), 2 (1.0), 4 (3.0) -> row 4 rank 0, row 0 rank 1, row 2 rank 2
    group = np.array(["b", "a", "b", "a", "b"])
    scores = np.array([1.0, 2.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ranks_within_groups(group, scores), [1, 0, 2, 1, 0])


def test_ranks_integer_and_bool_scores():
    # Integer/bool scores are compared as floats; bools rank True first.
    np.testing.assert_array_equal(ranks_within_groups([5, 5, 5], [False, True, False]), [1, 0, 2])
    np.testing.assert_array_equal(ranks_within_groups([1, 2, 1], [3, 9, 7]), [1, 0, 0])


def test_ranks_match_loop_reference():
    rng = np.random.default_rng(0)
    n = 3000
    group = rng.integers(0, 300, n)
    scores = rng.integers(0, 5, n).astype(float)  # many ties
    expected = np.empty(n, dtype=np.int64)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        ordered = sorted(rows, key=lambda r: (-scores[r], r))
        expected[ordered] = np.arange(len(rows))
    np.testing.assert_array_equal(ranks_within_groups(group, scores), expected)


def test_ranks_empty_and_nan():
    assert ranks_within_groups(EMPTY_GROUP, EMPTY).shape == (0,)
    with pytest.raises(ValueError, match="NaN"):
        ranks_within_groups([0, 0], [1.0, np.nan])
    with pytest.raises(ValueError):
        ranks_within_groups([0, 0, 1], [1.0, 2.0])


# --------------------------------------------------------------------------- auc


def test_auc_hand_case_with_tie():
    # positives: 0.8, 0.3; negatives: 0.8, 0.1
    # pairs: (0.8, 0.8) tie 0.5, (0.8, 0.1) 1, (0.3, 0.8) 0, (0.3, 0.1) 1 -> 2.5 / 4
    labels = [1, 0, 1, 0]
    scores = [0.8, 0.8, 0.3, 0.1]
    assert auc(labels, scores) == 0.625
    # weights [2, 1, 1, 1]: pair weight w_pos * w_neg
    # 2*1*0.5 + 2*1*1 + 1*1*0 + 1*1*1 = 4 over (2 + 1) * (1 + 1) = 6
    assert auc(labels, scores, weights=[2, 1, 1, 1]) == pytest.approx(2 / 3, abs=1e-15)


def test_auc_perfect_and_reversed():
    assert auc([0, 0, 1, 1], [1, 2, 3, 4]) == 1.0
    assert auc([1, 1, 0, 0], [1, 2, 3, 4]) == 0.0
    assert auc([1, 0, 1, 0], [5, 5, 5, 5]) == 0.5


@pytest.mark.parametrize("weighted", [False, True])
def test_auc_matches_sklearn(weighted: bool):
    rng = np.random.default_rng(42)
    n = 5000
    labels = rng.random(n) < 0.3
    scores = np.round(rng.normal(size=n) + labels, 1)  # rounding creates many ties
    weights = rng.uniform(0.1, 3.0, n) if weighted else None
    expected = roc_auc_score(labels, scores, sample_weight=weights)
    assert auc(labels, scores, weights) == pytest.approx(expected, abs=1e-9)


def test_auc_single_class_and_empty_is_nan():
    assert math.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(auc([0, 0], [0.1, 0.2]))
    assert math.isnan(auc(EMPTY, EMPTY))
    # Both classes present but the positives carry no weight.
    assert math.isnan(auc([1, 0], [0.2, 0.1], weights=[0.0, 1.0]))


# --------------------------------------------------------------------------- recall


def test_recall_hand_case():
    # Relevant rows: 2 (rank 2), 3 (rank 3), 4 (rank 1); 3 in total.
    # k=1: none; k=2: row 4 -> 1/3 (row 2 loses its tie with row 1);
    # k=3: rows 2, 4 -> 2/3; k=4 and k > every group size: 3/3; k=0: 0/3.
    expected = {0: 0.0, 1: 0.0, 2: 1 / 3, 3: 2 / 3, 4: 1.0, 100: 1.0}
    for k, value in expected.items():
        assert recall_at_k(GROUP, SCORES, RELEVANT, k) == value
        assert hit_rate_at_k(GROUP, SCORES, RELEVANT, k) == value
        assert captured_at_k(GROUP, SCORES, RELEVANT, k) == value


def test_recall_accepts_counts_as_relevance():
    # Action counts: > 0 counts as relevant, like the boolean mask.
    counts = RELEVANT.astype(int) * 3
    assert recall_at_k(GROUP, SCORES, counts, 2) == 1 / 3


def test_recall_no_relevant_or_empty_is_nan():
    assert math.isnan(recall_at_k(GROUP, SCORES, np.zeros(9, dtype=bool), 3))
    assert math.isnan(recall_at_k(EMPTY_GROUP, EMPTY, EMPTY, 3))
    assert math.isnan(hit_rate_at_k(EMPTY_GROUP, EMPTY, EMPTY, 0))


def test_negative_k_rejected():
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(GROUP, SCORES, RELEVANT, -1)
    with pytest.raises(TypeError):
        recall_at_k(GROUP, SCORES, RELEVANT, 1.5)  # type: ignore[arg-type]


def test_per_group_recall_hand_case():
    # Group 0: 2 relevant at ranks 2, 3; group 1: 1 relevant at rank 1; group 2 skipped.
    # k=2: (0/2 + 1/1) / 2 = 0.5; k=3: (1/2 + 1) / 2 = 0.75; k=1 and k=0: 0;
    # k=10 (larger than every group): 1.
    expected = {0: 0.0, 1: 0.0, 2: 0.5, 3: 0.75, 10: 1.0}
    for k, value in expected.items():
        assert per_group_recall_at_k(GROUP, SCORES, RELEVANT, k) == value


def test_per_group_recall_differs_from_pooled():
    # Group 0 has 3 relevant rows, 1 in the top 1; group 1 has 1, found.
    # pooled: 2/4 = 0.5; per group: (1/3 + 1) / 2 = 2/3.
    group = [0, 0, 0, 1, 1]
    scores = [3, 2, 1, 2, 1]
    relevant = [1, 1, 1, 1, 0]
    assert recall_at_k(group, scores, relevant, 1) == 0.5
    assert per_group_recall_at_k(group, scores, relevant, 1) == pytest.approx(2 / 3)


def test_per_group_recall_all_negative_and_empty_is_nan():
    assert math.isnan(per_group_recall_at_k(GROUP, SCORES, np.zeros(9), 3))
    assert math.isnan(per_group_recall_at_k(EMPTY_GROUP, EMPTY, EMPTY, 3))


def test_per_group_recall_matches_loop_reference():
    rng = np.random.default_rng(1)
    n = 2000
    group = rng.integers(0, 200, n)
    scores = rng.integers(0, 4, n).astype(float)
    relevant = rng.random(n) < 0.2
    k = 3
    ranks = ranks_within_groups(group, scores)
    per_group = [
        np.sum(relevant[group == g] & (ranks[group == g] < k)) / np.sum(relevant[group == g])
        for g in np.unique(group)
        if relevant[group == g].any()
    ]
    assert per_group_recall_at_k(group, scores, relevant, k) == pytest.approx(np.mean(per_group))


# --------------------------------------------------------------------------- ndcg


def test_ndcg_hand_case():
    # Group 0: gains by rank [0, 0, 2, 1]; ideal order [2, 1, 0, 0].
    # Group 1: gains by rank [0 (row 5), 1 (row 4), 3 (row 6)]; ideal [3, 1, 0].
    # Group 2: all gains 0 -> skipped.
    g0 = {1: 0.0, 2: 0.0, 3: (2 * _d(2)) / (2 * _d(0) + 1 * _d(1))}
    g1 = {1: 0.0, 2: (1 * _d(1)) / (3 * _d(0) + 1 * _d(1))}
    g1[3] = (1 * _d(1) + 3 * _d(2)) / (3 * _d(0) + 1 * _d(1))
    for k in (1, 2, 3):
        assert ndcg_at_k(GROUP, SCORES, GAINS, k) == pytest.approx((g0[k] + g1[k]) / 2, abs=1e-15)
    # k beyond every group size: full-list NDCG.
    g0_full = (2 * _d(2) + 1 * _d(3)) / (2 * _d(0) + 1 * _d(1))
    assert ndcg_at_k(GROUP, SCORES, GAINS, 50) == pytest.approx((g0_full + g1[3]) / 2, abs=1e-15)


def test_ndcg_perfect_ranking_is_one():
    group = [0, 0, 0, 1, 1]
    gains = [3, 1, 0, 0, 2]
    assert ndcg_at_k(group, gains, gains, 2) == 1.0


@pytest.mark.parametrize("k", [1, 3, 5])
def test_ndcg_matches_sklearn(k: int):
    # sklearn takes one sample per row of a (groups, items) matrix and averages per sample;
    # it counts all-zero samples as 0, so every group here has a positive gain. Continuous
    # random scores have no ties, so sklearn's tie averaging does not come into play.
    rng = np.random.default_rng(3)
    n_groups, size = 40, 5
    y_true = rng.integers(0, 4, (n_groups, size)).astype(float)
    y_true[:, 0] += 1.0
    y_score = rng.random((n_groups, size))
    expected = ndcg_score(y_true, y_score, k=k)

    group = np.repeat(np.arange(n_groups), size)
    perm = rng.permutation(group.shape[0])  # groups need not be contiguous
    got = ndcg_at_k(group[perm], y_score.ravel()[perm], y_true.ravel()[perm], k)
    assert got == pytest.approx(expected, abs=1e-12)


def test_ndcg_edge_cases():
    assert math.isnan(ndcg_at_k(GROUP, SCORES, GAINS, 0))  # ideal DCG@0 is 0 everywhere
    assert math.isnan(ndcg_at_k(GROUP, SCORES, np.zeros(9), 3))  # all-negative groups
    assert math.isnan(ndcg_at_k(EMPTY_GROUP, EMPTY, EMPTY, 3))
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k([0, 0], [1.0, 2.0], [1.0, -1.0], 2)


# --------------------------------------------------------------------------- top-k share


def test_top_k_share_hand_case():
    # flag = RELEVANT. k=1: top rows 0, 5, 8 -> 0/3.
    # k=2: rows 0, 1, 4, 5, 7, 8 -> row 4 flagged -> 1/6.
    # k=3: group 0 rows 0, 1, 2; group 1 all 3; group 2 both 2 -> rows 2, 4 flagged -> 2/8.
    # k=10: every row -> 3/9.
    expected = {1: 0.0, 2: 1 / 6, 3: 0.25, 10: 1 / 3}
    for k, value in expected.items():
        assert top_k_share(GROUP, SCORES, RELEVANT, k) == value


def test_top_k_share_empty_top_is_nan():
    assert math.isnan(top_k_share(GROUP, SCORES, RELEVANT, 0))
    assert math.isnan(top_k_share(EMPTY_GROUP, EMPTY, EMPTY, 3))
    assert top_k_share(GROUP, SCORES, np.zeros(9, dtype=bool), 3) == 0.0


# --------------------------------------------------------------------------- mean per group


def test_mean_per_group_hand_case():
    # Sums per group: a -> 0.5 + 0.25 = 0.75, b -> 1.0, c -> 0.0; mean = 1.75 / 3.
    group = ["a", "a", "b", "c"]
    values = [0.5, 0.25, 1.0, 0.0]
    assert mean_per_group(group, values) == pytest.approx(1.75 / 3, abs=1e-15)


def test_mean_per_group_empty_is_nan():
    assert math.isnan(mean_per_group(EMPTY_GROUP, EMPTY))
