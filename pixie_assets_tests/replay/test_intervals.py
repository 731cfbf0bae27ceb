"""Bootstrap intervals of replay metrics, and the windows of a rolling-origin backtest."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixie_assets.replay import (
    ReplayWindow,
    ReplayWindowError,
    UserFigures,
    bootstrap_intervals,
    rank_metrics,
    rolling_windows,
)

KS = (10, 100, 1000)


def _case(seed: int = 0, n: int = 2000, users: int = 300):
    rng = np.random.default_rng(seed)
    owner = rng.integers(0, users, n)
    ranks = rng.choice([1.0, 5.0, 50.0, 500.0, math.inf], n)
    _, codes = np.unique(owner, return_inverse=True)
    return owner, codes, ranks


def test_user_figures_give_the_metrics_of_rank_metrics():
    owner, codes, ranks = _case()
    figures = UserFigures.of(codes, ranks, int(codes.max()) + 1, KS, 20)
    expected = rank_metrics(owner, ranks, KS, 20)
    got = figures.metrics()
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert float(got[name]) == pytest.approx(value)


def test_interval_brackets_the_estimate_and_is_reproducible():
    _, codes, ranks = _case()
    figures = {"a": UserFigures.of(codes, ranks, int(codes.max()) + 1, KS, 20)}
    first, _ = bootstrap_intervals(figures, replicates=300, seed=5)
    again, _ = bootstrap_intervals(figures, replicates=300, seed=5)
    assert first == again
    for interval in first["a"].values():
        assert interval.low <= interval.estimate <= interval.high
        assert interval.high - interval.low > 0


def test_paired_interval_of_a_ranker_with_itself_is_zero():
    _, codes, ranks = _case()
    fig = UserFigures.of(codes, ranks, int(codes.max()) + 1, KS, 20)
    _, paired = bootstrap_intervals({"a": fig, "b": fig}, [("a", "b")], replicates=200)
    for interval in paired["a-b"].values():
        assert interval.estimate == interval.low == interval.high == 0.0


def test_a_consistent_small_gain_is_seen_by_the_paired_interval_only():
    """B improves every user a little (each positive at rank 101..150 moves into the top 100
    with probability 0.05). Users differ a lot in how easy they are, so each ranker's own
    interval is wide and the two overlap, while the paired interval excludes zero (seed 0,
    1,000 replicates, 95%)."""
    rng = np.random.default_rng(0)
    users = 400
    skill = rng.uniform(0.05, 0.95, users)  # share of a user's positives Pixie ranks high
    owner = np.repeat(np.arange(users), 6)
    top = rng.random(len(owner)) < skill[owner]
    ranks_a = np.where(top, rng.integers(1, 100, len(owner)), rng.integers(101, 150, len(owner)))
    moved = (~top) & (rng.random(len(owner)) < 0.05)
    ranks_b = np.where(moved, 100, ranks_a).astype(float)
    a = UserFigures.of(owner, ranks_a.astype(float), users, (100,), 20)
    b = UserFigures.of(owner, ranks_b, users, (100,), 20)
    single, paired = bootstrap_intervals({"a": a, "b": b}, [("b", "a")], replicates=1000)
    assert single["b"]["hit@100"].low < single["a"]["hit@100"].high  # overlap
    assert paired["b-a"]["hit@100"].low > 0


def test_rankers_must_share_their_users():
    _, codes, ranks = _case()
    a = UserFigures.of(codes, ranks, int(codes.max()) + 1, KS, 20)
    b = UserFigures.of(codes, ranks, int(codes.max()) + 2, KS, 20)
    with pytest.raises(ValueError, match="same users"):
        bootstrap_intervals({"a": a, "b": b})


def test_rolling_windows_are_consecutive_and_end_at_the_given_window():
    last = ReplayWindow.parse("2018-03-27", "2018-09-24")
    windows = rolling_windows(last, 8, 182)
    assert len(windows) == 8 and windows[-1] == last
    assert all(w.days == 182 for w in windows)
    for older, newer in zip(windows, windows[1:], strict=False):
        assert newer.previous() == older
    assert rolling_windows(last) == [last]
    with pytest.raises(ReplayWindowError, match="--test-start 2018-09-18"):
        rolling_windows(last, 2, 7)
    with pytest.raises(ReplayWindowError, match="at least 1"):
        rolling_windows(last, 0)
