"""Query pins: action and recency weights on hand-computed cases."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pixie_assets.core.clients import ClientConfig
from pixie_assets.serving.queries import (
    engagement_weights,
    recent_engagement_queries,
    viewed_pin_queries,
)

DAY = date(2026, 11, 8)
CONFIG = ClientConfig(
    "homefeed",
    requests_per_1k_users=1,
    query="recent_engagements",
    max_query_pins=2,
    query_half_life_days=7.0,
    query_action_weights={"save": 1.0, "closeup": 0.6, "click": 0.5},
)


def _eng(rows):
    return pd.DataFrame(rows, columns=["user_id", "pin_id", "action", "ts"]).astype(
        {"ts": "datetime64[us]"}
    )


def test_weights_sum_actions_with_half_life_decay_and_drop_hidden_pins():
    engagements = _eng(
        [
            (1, 10, "save", "2026-11-07 00:00"),  # 1 day old: 1.0 * 2^(-1/7)
            (1, 10, "click", "2026-11-01 00:00"),  # 7 days old: 0.5 * 1/2
            (1, 20, "closeup", "2026-10-25 00:00"),  # 14 days old: 0.6 * 1/4
            (1, 30, "click", "2026-11-07 12:00"),
            (1, 30, "hide", "2026-11-07 13:00"),  # hidden: pin 30 is no query pin
            (2, 40, "click", "2026-11-08 00:00"),  # 0 days old: 0.5
        ]
    )
    weights = engagement_weights(engagements, CONFIG, DAY)
    got = {(r.user_id, r.pin_id): r.weight for r in weights.itertuples()}
    assert set(got) == {(1, 10), (1, 20), (2, 40)}
    assert got[(1, 10)] == pytest.approx(2 ** (-1 / 7) + 0.25, rel=1e-9)
    assert got[(1, 20)] == pytest.approx(0.15, rel=1e-9)
    assert got[(2, 40)] == pytest.approx(0.5, rel=1e-9)


def test_queries_take_the_strongest_pins_and_leave_unknown_users_empty():
    engagements = _eng(
        [
            (1, 10, "save", "2026-11-07 00:00"),
            (1, 20, "click", "2026-11-07 00:00"),
            (1, 30, "closeup", "2026-11-07 00:00"),
        ]
    )
    weights = engagement_weights(engagements, CONFIG, DAY)
    requests = pd.DataFrame({"request_id": ["a", "b"], "user_id": [1, 99]})
    queries = recent_engagement_queries(requests, weights, CONFIG).set_index("request_id")
    assert queries.loc["a", "query_pin_ids"] == [10, 30]  # save 1.0 > closeup 0.6 > click 0.5
    assert queries.loc["a", "query_weights"] == pytest.approx([2 ** (-1 / 7), 0.6 * 2 ** (-1 / 7)])
    assert queries.loc["b", "query_pin_ids"] == []


def test_related_pins_query_is_the_viewed_pin():
    requests = pd.DataFrame({"request_id": ["r"], "user_id": [1], "viewed_pin_id": [77]})
    queries = viewed_pin_queries(requests)
    assert queries.iloc[0]["query_pin_ids"] == [77] and queries.iloc[0]["query_weights"] == [1.0]


def test_query_rule_ages_engagements_in_the_users_own_active_days():
    from dataclasses import replace

    from pixie_assets.serving.queries import QueryRule, query_pins

    engagements = _eng(
        [
            (1, 10, "save", "2026-11-07 00:00"),
            (1, 10, "click", "2026-11-01 00:00"),
            (1, 20, "closeup", "2026-10-25 00:00"),
            (1, 30, "click", "2026-11-07 12:00"),
            (1, 30, "hide", "2026-11-07 13:00"),
            # a user last seen 20 years ago, in two sessions a week apart
            (3, 50, "save", "2006-01-02 10:00"),
            (3, 60, "click", "2005-12-26 09:00"),
        ]
    )
    rule = QueryRule.of(CONFIG)
    got = query_pins(engagements, rule).set_index(["user_id", "pin_id"])["weight"]
    # user 1 was active on 11-07, 11-01 and 10-25: ages 0, 1 and 2 active days
    assert list(got.loc[1].index) == [10, 20]  # 30 was hidden
    assert got.loc[(1, 10)] == pytest.approx(1.0 + 0.5 * 2 ** (-1 / 7))
    assert got.loc[(1, 20)] == pytest.approx(0.6 * 2 ** (-2 / 7))
    # the dormant user's previous session is one active day back, not 20 years
    assert got.loc[(3, 50)] == pytest.approx(1.0)
    assert got.loc[(3, 60)] == pytest.approx(0.5 * 2 ** (-1 / 7))
    # calendar recency from the user's last engagement keeps serving's ratios
    calendar = query_pins(engagements, replace(rule, recency="calendar"))
    calendar = calendar.set_index(["user_id", "pin_id"])["weight"]
    serving = engagement_weights(engagements, CONFIG, DAY).set_index(["user_id", "pin_id"])
    assert calendar.loc[(1, 10)] / calendar.loc[(1, 20)] == pytest.approx(
        serving.loc[(1, 10), "weight"] / serving.loc[(1, 20), "weight"]
    )
    assert calendar.loc[(3, 60)] == pytest.approx(0.5 * 2 ** (-(7 + 1 / 24) / 7))


def test_plain_query_takes_the_most_recent_pins_with_equal_weight():
    from pixie_assets.serving.queries import QueryRule, query_pins

    engagements = _eng(
        [
            (1, 10, "save", "2026-11-01 00:00"),
            (1, 20, "click", "2026-11-03 00:00"),
            (1, 30, "closeup", "2026-11-05 00:00"),
            (1, 40, "click", "2026-11-06 00:00"),
            (1, 40, "hide", "2026-11-06 01:00"),
            (1, 20, "click", "2026-10-01 00:00"),
        ]
    )
    rule = QueryRule(max_pins=2, half_life_days=None, action_weights=None)
    got = query_pins(engagements, rule)
    assert got["pin_id"].tolist() == [30, 20]  # 40 was hidden
    assert got["weight"].tolist() == [1.0, 1.0]
