"""Traffic: who visits a surface on a day, with and without a world."""

from __future__ import annotations

from datetime import date

import numpy as np

from pixie_assets.core.clients import CLIENTS
from pixie_assets.serving.queries import engagement_weights
from pixie_assets.serving.traffic import observed_activity, sample_requests

DAY = date(2026, 11, 1)


def _world_traffic(truth):
    return truth.hidden_activity(), len(truth.user_ids)


def _weights(world, client):
    return engagement_weights(world.tables["engagements"].to_pandas(), CLIENTS[client], DAY)


def test_requests_are_deterministic_unique_and_sized_by_client(demo_world):
    config = CLIENTS["homefeed"]
    weights = _weights(demo_world, "homefeed")
    a = sample_requests(*_world_traffic(demo_world.truth), config, DAY, 7, weights)
    b = sample_requests(*_world_traffic(demo_world.truth), config, DAY, 7, weights)
    assert a.equals(b)
    assert len(a) == round(config.requests_per_1k_users * 20_000 / 1_000)
    assert a["request_id"].is_unique and a["user_id"].is_unique
    assert set(a["user_id"]) <= set(weights["user_id"])
    assert (a["ts"].dt.date == DAY).all() and a["ts"].is_monotonic_increasing
    other_day = sample_requests(
        *_world_traffic(demo_world.truth), config, date(2026, 11, 2), 7, weights
    )
    assert not set(other_day["request_id"]) & set(a["request_id"])


def test_active_users_visit_more(demo_world):
    """Visitors' mean hidden activity exceeds the eligible users' mean by at least 30%
    (sampling is proportional to activity; seed 7, demo scale)."""
    truth = demo_world.truth
    weights = _weights(demo_world, "notifications")
    requests = sample_requests(*_world_traffic(truth), CLIENTS["notifications"], DAY, 7, weights)
    eligible = np.unique(weights["user_id"])
    visitors = truth.user_activity[truth.user_index(requests["user_id"].to_numpy())].mean()
    everyone = truth.user_activity[truth.user_index(eligible)].mean()
    assert visitors > 1.3 * everyone


def test_related_pins_views_a_pin_the_user_engaged_with(demo_world):
    weights = _weights(demo_world, "related_pins")
    requests = sample_requests(
        *_world_traffic(demo_world.truth), CLIENTS["related_pins"], DAY, 7, weights
    )
    engaged = set(zip(weights["user_id"], weights["pin_id"], strict=True))
    pairs = zip(requests["user_id"], requests["viewed_pin_id"], strict=True)
    assert all(pair in engaged for pair in pairs)


def test_without_a_world_recent_engagement_sizes_the_traffic(demo_world):
    """Landing mode: the strongest recent engagers are the likeliest visitors."""
    weights = _weights(demo_world, "homefeed")
    activity = observed_activity(weights)
    requests = sample_requests(activity, 20_000, CLIENTS["homefeed"], DAY, 7, weights)
    assert len(requests) == 4_000 and requests["user_id"].is_unique
    assert activity[requests["user_id"]].mean() > 1.3 * activity.mean()
