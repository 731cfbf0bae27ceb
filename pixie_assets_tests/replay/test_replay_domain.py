"""Replay's domain code on hand-checkable inputs: windows, history, popularity and metrics."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from pixie_assets.core.clients import client_config
from pixie_assets.replay import ReplayWindow, ReplayWindowError, rank_metrics
from pixie_assets.replay.candidates import request_queries
from pixie_assets.replay.history import build_window_history
from pixie_assets.replay.ranking import popularity_order, popularity_ranks
from pixie_assets.serving.queries import QueryRule
from pixie_assets.training.metrics import ndcg_at_k, per_group_recall_at_k, recall_at_k
from pixie_assets_tests.replay import builders


def test_the_training_window_precedes_the_test_window():
    test = ReplayWindow.parse("2026-10-25", "2026-10-31")
    assert test.days == 7 and test.stop == date(2026, 11, 1)
    assert test.previous() == ReplayWindow(date(2026, 10, 18), date(2026, 10, 24))
    one_day = ReplayWindow.parse("2026-03-10", "2026-03-10")
    assert str(one_day.previous()) == "2026-03-09..2026-03-09"
    with pytest.raises(ReplayWindowError, match="before it starts"):
        ReplayWindow.parse("2026-10-31", "2026-10-25")
    with pytest.raises(ReplayWindowError, match="YYYY-MM-DD"):
        ReplayWindow.parse("2026-10-25", "31/10/2026")


def test_history_of_the_example_window():
    tables = builders.tables()
    engagements = tables["engagements"].to_pandas()
    history = build_window_history(
        ReplayWindow.parse(*builders.window()), tables["saves"].to_pandas(), engagements
    )
    rule = QueryRule.of(client_config("homefeed"))
    requests = request_queries(history, engagements, rule).set_index("user_id")
    assert list(requests.index) == [101, 102, 103, 105, 106, 107, 108]
    assert requests.loc[101, "query_pin_ids"] == [11]
    assert sorted(requests.loc[102, "query_pin_ids"]) == [11, 12]
    assert requests.loc[103, "query_pin_ids"] == []  # a hide is no reason to recommend
    # the duplicate click counts twice, as two actions would
    assert requests.loc[106, "query_weights"][0] == pytest.approx(
        2 * requests.loc[101, "query_weights"][0]
    )
    assert requests.loc[107, "engaged"] == 2  # clicked q, saved x in the training window
    positives = set(zip(history.positives["user_id"], history.positives["pin_id"], strict=True))
    assert positives == {(101, 14), (101, 31), (102, 13), (103, 22), (105, 22), (105, 23)}
    assert history.counts["cold_start_saves"] == 1 and history.counts["repeat_saves"] == 1


def _brute_popularity(order, user_engaged, positives):
    ranks = []
    for user, pin in positives:
        own = [p for p in order if p not in user_engaged.get(user, set())]
        ranks.append(own.index(pin) + 1 if pin in own else math.inf)
    return ranks


def test_popularity_ranks_equal_per_user_lists():
    rng = np.random.default_rng(3)
    saved = rng.integers(0, 40, 300)
    order = popularity_order(saved)
    counts = np.bincount(saved, minlength=40)
    assert all(counts[a] >= counts[b] for a, b in zip(order, order[1:], strict=False))
    engaged = {u: set(rng.choice(50, 8, replace=False).tolist()) for u in range(6)}
    positives = [(u, int(p)) for u in range(6) for p in rng.choice(50, 5, replace=False)]
    positives = [(u, p) for u, p in positives if p not in engaged[u]]
    pairs = [(u, p) for u, pins in engaged.items() for p in pins]
    got = popularity_ranks(
        order,
        np.array([u for u, _ in positives]),
        np.array([p for _, p in positives]),
        np.array([u for u, _ in pairs]),
        np.array([p for _, p in pairs]),
    )
    np.testing.assert_array_equal(got, _brute_popularity(list(order), engaged, positives))
    assert np.isinf(got).any()  # pins 40..49 were never saved


def test_rank_metrics_by_hand():
    users = np.array([1, 1, 2, 3])
    ranks = np.array([1, 25, 3, math.inf])
    got = rank_metrics(users, ranks, hit_ks=(1, 10, 100), cutoff=20)
    assert got["hit@1"] == 1 / 4 and got["hit@10"] == 2 / 4 and got["hit@100"] == 3 / 4
    assert got["recall@20"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    ideal_two = 1 + 1 / math.log2(3)
    assert got["ndcg@20"] == pytest.approx((1 / ideal_two + 1 / math.log2(4) + 0) / 3)
    assert all(math.isnan(v) for v in rank_metrics(np.array([]), np.array([])).values())


def test_rank_metrics_agree_with_training_metrics_when_every_positive_is_a_candidate():
    """Where the candidates hold every positive, the replay's metrics are the project's."""
    rng = np.random.default_rng(11)
    group = np.repeat(np.arange(30), 40)
    scores = rng.random(len(group))
    relevant = rng.random(len(group)) < 0.05
    relevant[np.arange(30) * 40] = True  # every group has a positive
    order = np.lexsort((-scores, group))
    rank = np.empty(len(group))
    rank[order] = np.arange(len(group)) - np.searchsorted(group[order], group[order]) + 1
    got = rank_metrics(group[relevant], rank[relevant], hit_ks=(5, 10), cutoff=10)
    assert got["hit@5"] == pytest.approx(recall_at_k(group, scores, relevant, 5))
    assert got["recall@10"] == pytest.approx(per_group_recall_at_k(group, scores, relevant, 10))
    assert got["ndcg@10"] == pytest.approx(ndcg_at_k(group, scores, relevant.astype(float), 10))


def test_a_training_window_without_history_says_which_window():
    from pixie_assets.replay import ReplayParams, ReplaySources, train_replay_model
    from pixie_assets.training.fit import TrainingDataError

    tables = builders.tables()
    sources = ReplaySources(
        users=tables["users"],
        pins=tables["pins"],
        boards=tables["boards"],
        saves=tables["saves"].to_pandas(),
        engagements=tables["engagements"].to_pandas(),
    )
    with pytest.raises(TrainingDataError, match=r"2026-03-02\.\.2026-03-03"):
        train_replay_model(sources, ReplayWindow.parse("2026-03-04", "2026-03-05"), ReplayParams())
