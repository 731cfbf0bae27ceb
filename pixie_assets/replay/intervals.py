"""How sure a replay is: bootstrap intervals over test users, for each ranker and for the
difference between two rankers on the same users.

The unit of resampling is the test user (in a rolling backtest, the (window, user) pair): a
user's positives are not independent of each other (one taste, one list), so resampling
positives would understate the spread. Every metric of ``ranking.rank_metrics`` is a ratio of
per-user sums, so a bootstrap replicate only re-weights per-user figures:

- ``hit@k`` = Σ_u hits_u(k) / Σ_u positives_u (pooled over positives);
- ``recall@c`` and ``ndcg@c`` = the mean over users of the user's own value.

A replicate draws users with replacement (``B`` replicates, percentile interval). The paired
interval of ``a − b`` evaluates both rankers on the same draw, so the spread that the users
share (a hard user is hard for every ranker) cancels, which is what makes a small improvement
visible on a few hundred users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_REPLICATES = 1_000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_list(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class UserFigures:
    """Per-user sums behind every metric, users in a fixed order shared by all rankers:
    ``positives[u]``, ``hits[k][u]`` (positives ranked ≤ k), ``recall[u]``, ``ndcg[u]``."""

    positives: np.ndarray
    hits: Mapping[int, np.ndarray]
    recall: np.ndarray
    ndcg: np.ndarray
    cutoff: int

    @classmethod
    def of(
        cls,
        user_codes: np.ndarray,
        ranks: np.ndarray,
        n_users: int,
        hit_ks: Sequence[int],
        cutoff: int,
    ) -> UserFigures:
        """From the rank of each positive (``inf`` = not listed) and its user's code in
        ``0..n_users-1``; the same codes must be used for every ranker compared."""
        codes = np.asarray(user_codes, dtype=np.int64)
        ranks = np.asarray(ranks, dtype=np.float64)
        positives = np.bincount(codes, minlength=n_users).astype(np.float64)
        hits = {k: np.bincount(codes, weights=(ranks <= k), minlength=n_users) for k in hit_ks}
        found = np.bincount(codes, weights=(ranks <= cutoff), minlength=n_users)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(ranks <= cutoff, 1.0 / np.log2(1.0 + ranks), 0.0)
            ideal_cumulative = np.cumsum(1.0 / np.log2(2.0 + np.arange(cutoff)))
            ideal = ideal_cumulative[
                np.clip(np.minimum(positives, cutoff), 1, None).astype(int) - 1
            ]
            dcg = np.bincount(codes, weights=gain, minlength=n_users)
            recall = np.where(positives > 0, found / positives, 0.0)
            ndcg = np.where(positives > 0, dcg / ideal, 0.0)
        return cls(positives, hits, recall, ndcg, cutoff)

    def metrics(self, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every metric under user weights (``None``: each user once); ``weights`` may be a
        (replicates × users) matrix, giving one value per replicate."""
        w = np.ones_like(self.positives) if weights is None else np.asarray(weights, np.float64)
        judged = (self.positives > 0).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            positives = w @ self.positives
            users = w @ judged
            out = {f"hit@{k}": (w @ hits) / positives for k, hits in self.hits.items()}
            out[f"recall@{self.cutoff}"] = (w @ self.recall) / users
            out[f"ndcg@{self.cutoff}"] = (w @ self.ndcg) / users
        return out


def _replicate_weights(n_users: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial counts: how often each user is drawn in each replicate."""
    draws = rng.integers(0, n_users, size=(replicates, n_users))
    weights = np.zeros((replicates, n_users), dtype=np.float64)
    np.add.at(weights, (np.repeat(np.arange(replicates), n_users), draws.ravel()), 1.0)
    return weights


def bootstrap_intervals(
    figures: Mapping[str, UserFigures],
    pairs: Sequence[tuple[str, str]] = (),
    replicates: int = DEFAULT_REPLICATES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    chunk: int = 100,
) -> tuple[dict[str, dict[str, Interval]], dict[str, dict[str, Interval]]]:
    """Percentile intervals of every ranker's metrics, and of ``a − b`` for each pair
    (keyed ``"a-b"``), all from the same ``replicates`` draws of users (seeded)."""
    if not figures:
        return {}, {}
    n_users = len(next(iter(figures.values())).positives)
    if any(len(f.positives) != n_users for f in figures.values()):
        raise ValueError("every ranker must be judged on the same users")
    rng = np.random.default_rng(seed)
    samples: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in figures}
    for lo in range(0, replicates, chunk):
        weights = _replicate_weights(n_users, min(chunk, replicates - lo), rng)
        for name, fig in figures.items():
            for metric, values in fig.metrics(weights).items():
                samples[name].setdefault(metric, []).append(values)
    drawn = {
        name: {metric: np.concatenate(parts) for metric, parts in by_metric.items()}
        for name, by_metric in samples.items()
    }
    tail = (1.0 - level) / 2.0

    def interval(estimate: float, values: np.ndarray) -> Interval:
        finite = values[np.isfinite(values)]
        if len(finite) == 0 or not np.isfinite(estimate):
            return Interval(float(estimate), float("nan"), float("nan"))
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        return Interval(float(estimate), float(low), float(high))

    point = {name: {m: float(v) for m, v in fig.metrics().items()} for name, fig in figures.items()}
    per_ranker = {
        name: {metric: interval(point[name][metric], drawn[name][metric]) for metric in point[name]}
        for name in figures
    }
    paired = {
        f"{a}-{b}": {
            metric: interval(
                point[a][metric] - point[b][metric], drawn[a][metric] - drawn[b][metric]
            )
            for metric in point[a]
        }
        for a, b in pairs
    }
    return per_ranker, paired
