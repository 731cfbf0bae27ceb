"""Ranking metrics for offline evaluation, vectorised over flat per-candidate arrays.

Model evaluation scores every logged candidate of a day (millions of rows, one row per
request x candidate). Each metric therefore takes flat arrays plus a ``group`` array naming
the request of each row, and never loops over groups in Python: rows are sorted once with
``np.lexsort`` and per-group quantities come from ``np.bincount``.

Conventions shared by all functions:

* Higher score = ranked first. Scores are compared as float64; NaN scores raise
  ``ValueError`` (a NaN from a scorer is a bug, and any rank given to it would be arbitrary).
* Ties in score are broken by row order: among equal scores the earlier row ranks first
  (``np.lexsort`` is stable). Results are thus deterministic, but do depend on row order
  for tied scores; sklearn's ``ndcg_score`` instead averages over ties.
* ``group`` may hold any sortable values (integer codes, strings, ...); rows of a group
  need not be contiguous.
* Boolean-like inputs (``labels``, ``relevant``, ``flag``) count as true where ``> 0``.
* A metric whose denominator is empty (no positives, no groups, nothing in the top k)
  returns NaN rather than an arbitrary 0 or 1.
"""

from __future__ import annotations

import operator

import numpy as np
import numpy.typing as npt

__all__ = [
    "auc",
    "captured_at_k",
    "hit_rate_at_k",
    "mean_per_group",
    "ndcg_at_k",
    "per_group_recall_at_k",
    "ranks_within_groups",
    "recall_at_k",
    "top_k_share",
]


# --------------------------------------------------------------------------- helpers


def _scores(scores: npt.ArrayLike) -> np.ndarray:
    """Scores as 1-D float64, rejecting NaN because no rank for it would be meaningful."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s


def _flag(values: npt.ArrayLike, name: str, n: int) -> np.ndarray:
    """A boolean mask (``> 0``) so 0/1 ints, bools and counts are all accepted."""
    v = np.asarray(values)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    return v if v.dtype == np.bool_ else v > 0


def _group(group: npt.ArrayLike, n: int | None = None) -> np.ndarray:
    g = np.asarray(group)
    if g.ndim != 1 or (n is not None and g.shape[0] != n):
        raise ValueError(f"group must be 1-D of length {n}, got shape {g.shape}")
    return g


def _k(k: int) -> int:
    """k as a non-negative int; a negative cut-off is always a caller bug."""
    k = operator.index(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return k


def _sorted_ranks(
    group: npt.ArrayLike, scores: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sort rows by (group, score descending, row order) once, for every rank-based metric.

    Returns ``(order, codes, ranks, n_groups)`` where ``order`` are the row indices in
    sorted order and ``codes`` / ``ranks`` are the 0-based group code and within-group rank
    of each *sorted* row (codes follow sorted group value).
    """
    s = _scores(scores)
    g = _group(group, s.shape[0])
    order = np.lexsort((-s, g))  # last key is primary; lexsort is stable -> row order on ties
    return (order, *_ranks_of_sorted(g[order]))


def _ranks_of_sorted(sorted_group: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Group codes and position-within-run for a group array that is already sorted."""
    n = sorted_group.shape[0]
    new = np.ones(n, dtype=bool)
    new[1:] = sorted_group[1:] != sorted_group[:-1]
    codes = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ranks = np.arange(n) - starts[codes]
    return codes, ranks, starts.shape[0]


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den != 0 else float("nan")


# --------------------------------------------------------------------------- metrics


def auc(
    labels: npt.ArrayLike, scores: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> float:
    """ROC AUC as the (weighted) Mann-Whitney statistic, independent of grouping.

    The probability that a random positive scores above a random negative, with tied
    scores counted as half (equivalent to average ranks, and to sklearn's
    ``roc_auc_score``). With ``weights`` each pair counts ``w_pos * w_neg``. NaN when only
    one class is present (or one class has zero total weight).
    """
    s = _scores(scores)
    n = s.shape[0]
    y = _flag(labels, "labels", n)
    w = np.ones(n, dtype=np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if n == 0:
        return float("nan")

    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted, w_sorted = s[order], y[order], w[order]
    # One block per distinct score: positives in a block beat all negatives of lower
    # blocks and half of the negatives within their own block.
    new = np.ones(n, dtype=bool)
    new[1:] = s_sorted[1:] != s_sorted[:-1]
    starts = np.flatnonzero(new)
    pos_w = np.add.reduceat(np.where(y_sorted, w_sorted, 0.0), starts)
    neg_w = np.add.reduceat(np.where(y_sorted, 0.0, w_sorted), starts)
    total_pos, total_neg = pos_w.sum(), neg_w.sum()
    if total_pos == 0 or total_neg == 0:
        return float("nan")
    neg_below = np.cumsum(neg_w) - neg_w
    return float(np.sum(pos_w * (neg_below + 0.5 * neg_w)) / (total_pos * total_neg))


def ranks_within_groups(group: npt.ArrayLike, scores: npt.ArrayLike) -> np.ndarray:
    """0-based rank of each row within its group (descending score, ties by row order).

    Returned in the input row order, so ``ranks < k`` is the top-k mask of every group.
    """
    order, _, sorted_ranks, _ = _sorted_ranks(group, scores)
    ranks = np.empty(order.shape[0], dtype=np.int64)
    ranks[order] = sorted_ranks
    return ranks


def recall_at_k(
    group: npt.ArrayLike, scores: npt.ArrayLike, relevant: npt.ArrayLike, k: int
) -> float:
    """Share of all relevant rows (pooled over groups) that rank in their group's top k.

    Pooled rather than averaged per group, so requests with many positives weigh more;
    see ``per_group_recall_at_k`` for the per-request mean. NaN if nothing is relevant.
    """
    k = _k(k)
    order, _, ranks, _ = _sorted_ranks(group, scores)
    rel = _flag(relevant, "relevant", order.shape[0])[order]
    return _ratio(np.count_nonzero(rel & (ranks < k)), np.count_nonzero(rel))


def hit_rate_at_k(
    group: npt.ArrayLike, scores: npt.ArrayLike, relevant: npt.ArrayLike, k: int
) -> float:
    """Pixie paper's hit rate: positives found in the top k over all positives.

    Identical to ``recall_at_k``; kept under the paper's name so reports read like it.
    """
    return recall_at_k(group, scores, relevant, k)


def captured_at_k(
    group: npt.ArrayLike, scores: npt.ArrayLike, flag: npt.ArrayLike, k: int
) -> float:
    """Funnel efficiency: share of all flagged rows (e.g. impressions) kept in the top k.

    Identical to ``recall_at_k``; named for the question "if the ranker keeps only the top
    M candidates per request, how much of what was shown do we still capture?".
    """
    return recall_at_k(group, scores, flag, k)


def per_group_recall_at_k(
    group: npt.ArrayLike, scores: npt.ArrayLike, relevant: npt.ArrayLike, k: int
) -> float:
    """Mean over groups with at least one relevant row of their recall@k.

    Every request counts equally, unlike the pooled ``recall_at_k``. Groups without
    relevant rows are skipped (their recall is undefined); NaN if no group has any.
    """
    k = _k(k)
    order, codes, ranks, n_groups = _sorted_ranks(group, scores)
    rel = _flag(relevant, "relevant", order.shape[0])[order]
    n_rel = np.bincount(codes, weights=rel, minlength=n_groups)
    n_found = np.bincount(codes, weights=rel & (ranks < k), minlength=n_groups)
    has_rel = n_rel > 0
    if not has_rel.any():
        return float("nan")
    return float(np.mean(n_found[has_rel] / n_rel[has_rel]))


def ndcg_at_k(group: npt.ArrayLike, scores: npt.ArrayLike, gains: npt.ArrayLike, k: int) -> float:
    """Mean over groups of DCG@k / IDCG@k, with DCG = sum(gain / log2(rank + 2)).

    ``rank`` is 0-based, gains are used linearly (not 2**gain - 1) and must be finite and
    non-negative. Groups whose ideal DCG@k is zero (no positive gain, or k == 0) are
    skipped, so NaN if every group is skipped. Ties follow row order, not sklearn's
    tie averaging.
    """
    k = _k(k)
    order, codes, ranks, n_groups = _sorted_ranks(group, scores)
    gain = np.asarray(gains, dtype=np.float64)
    if gain.shape != order.shape:
        raise ValueError(f"gains must have shape {order.shape}, got {gain.shape}")
    if not np.isfinite(gain).all() or (gain < 0).any():
        raise ValueError("gains must be finite and non-negative")

    # Discounts are the same for the actual and the ideal order: same group sizes.
    discount = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    dcg = np.bincount(codes, weights=gain[order] * discount, minlength=n_groups)

    g = _group(group)
    ideal_order = np.lexsort((-gain, g))
    ideal_codes, _, _ = _ranks_of_sorted(g[ideal_order])
    idcg = np.bincount(ideal_codes, weights=gain[ideal_order] * discount, minlength=n_groups)

    keep = idcg > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(dcg[keep] / idcg[keep]))


def top_k_share(group: npt.ArrayLike, scores: npt.ArrayLike, flag: npt.ArrayLike, k: int) -> float:
    """Share of flagged rows among all rows in the groups' top k (e.g. local share of top M).

    Pooled over groups: flagged-in-top-k / in-top-k, so short groups contribute fewer
    slots. NaN when the top k is empty (k == 0 or no rows).
    """
    k = _k(k)
    order, _, ranks, _ = _sorted_ranks(group, scores)
    f = _flag(flag, "flag", order.shape[0])[order]
    in_top = ranks < k
    return _ratio(np.count_nonzero(f & in_top), np.count_nonzero(in_top))


def mean_per_group(group: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """Mean over groups of the per-group sum (e.g. expected actions per request).

    Equals ``sum(values) / number of distinct groups``; NaN when there are no groups.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    g = _group(group, v.shape[0])
    n_groups = np.unique(g).shape[0]
    return _ratio(v.sum(), n_groups)
