"""The demo world has Pinterest's shape. Each bound is a tolerance around what the generator's
parameters imply, wide enough for any seed's noise at demo scale (seed 7 is used)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pixie_assets.core.contract import ACTIONS
from pixie_assets.world.summary import summarize_world


@pytest.fixture(scope="module")
def summary(demo_world):
    return summarize_world(demo_world.tables)


@pytest.fixture(scope="module")
def saves_with_topics(demo_world):
    t = demo_world.tables
    saves = t["saves"].select(["pin_id", "board_id"]).to_pandas()
    pins = t["pins"].select(["pin_id", "topic"]).to_pandas().set_index("pin_id")["topic"]
    boards = t["boards"].select(["board_id", "topic"]).to_pandas().set_index("board_id")["topic"]
    saves["pin_topic"] = saves["pin_id"].map(pins)
    saves["board_topic"] = saves["board_id"].map(boards)
    return saves


def test_sizes_match_the_demo_scale(summary):
    assert summary["rows"]["users"] == 20_000
    assert summary["rows"]["pins"] == 200_000
    assert summary["rows"]["saves"] == 1_000_000


def test_pin_popularity_is_heavy_tailed(summary):
    per_pin = summary["saves_per_pin"]
    assert per_pin["top1pct_share"] > 0.15  # top 1% of pins: over 15% of saves
    assert per_pin["max"] > 100 * max(per_pin["p50"], 1)
    assert per_pin["p99"] > 5 * max(per_pin["p50"], 1)


def test_board_sizes_and_user_activity_are_heavy_tailed(summary):
    assert summary["saves_per_board"]["p99"] > 8 * summary["saves_per_board"]["p50"]
    assert summary["saves_per_user"]["top1pct_share"] > 0.08
    assert summary["saves_per_user"]["p99"] > 10 * summary["saves_per_user"]["p50"]


def test_boards_are_topic_coherent_with_a_minority_of_mixed_ones(summary, saves_with_topics):
    assert 0.08 <= summary["mixed_board_share"] <= 0.12  # 10% configured
    topical = saves_with_topics.dropna(subset=["board_topic"])
    on_topic = (topical["pin_topic"] == topical["board_topic"]).mean()
    assert on_topic > 0.9  # 5% configured off-topic noise, some of which lands on-topic

    def dominant_share(frame: pd.DataFrame) -> pd.Series:
        counts = frame.groupby(["board_id", "pin_topic"]).size()
        per_board = counts.groupby(level=0)
        big = per_board.sum() >= 10
        return (per_board.max() / per_board.sum())[big]

    mixed = saves_with_topics[saves_with_topics["board_topic"].isna()]
    assert dominant_share(mixed).median() < dominant_share(topical).median() - 0.3


def test_locales_are_skewed_one_large_several_small(summary):
    users = list(summary["user_locales"].items())
    assert users[0][0] == "en-US" and 0.5 <= users[0][1] <= 0.62
    assert len(users) >= 5 and all(share <= 0.2 for _, share in users[1:])
    assert summary["pin_locales"]["en-US"] > summary["user_locales"]["en-US"]


def test_engagement_rises_with_interest_quality_and_locale_match(demo_world):
    """Draw actions for random (user, pin) pairs from the hidden model with a fixed seed: the
    positive-action rate must rise across interest quintiles (top over bottom at least 2x)."""
    truth = demo_world.truth
    rng = np.random.default_rng(0)
    n = 200_000
    user = rng.integers(0, len(truth.user_ids), n)
    pin = rng.integers(0, len(truth.pin_ids), n)
    probabilities = truth.action_probabilities_by_index(user, pin)
    action = truth.engagement_model.sample_actions(probabilities, rng)
    positive = np.isin(action, [ACTIONS.index(a) for a in ("save", "click", "closeup")])
    interest = truth.interest_by_index(user, pin)
    quintile = np.searchsorted(np.quantile(interest, [0.2, 0.4, 0.6, 0.8]), interest)
    rates = np.array([positive[quintile == q].mean() for q in range(5)])
    assert (np.diff(rates) > 0).all(), rates
    assert rates[-1] > 2 * rates[0]
    quality_high = truth.pin_quality[pin] > np.median(truth.pin_quality)
    assert positive[quality_high].mean() > 1.3 * positive[~quality_high].mean()
    match = truth.user_locale[user] == truth.pin_locale[pin]
    assert positive[match].mean() > 1.3 * positive[~match].mean()


def test_history_engagements_follow_interest(demo_world):
    """Clicks and closeups in the history sit on topics users care about far more than chance."""
    truth = demo_world.truth
    eng = demo_world.tables["engagements"].to_pandas()
    clicks = eng[eng["action"].isin(["click", "closeup"])]
    interest = truth.interest_by_index(
        truth.user_index(clicks["user_id"].to_numpy()), truth.pin_index(clicks["pin_id"].to_numpy())
    )
    rng = np.random.default_rng(1)
    random_interest = truth.interest_by_index(
        rng.integers(0, len(truth.user_ids), 50_000), rng.integers(0, len(truth.pin_ids), 50_000)
    )
    assert interest.mean() > 2 * random_interest.mean()


def test_history_holds_every_recent_save(demo_world):
    t = demo_world.tables
    first_day = np.datetime64("2026-11-01T00:00:00")
    window = first_day - np.timedelta64(demo_world.scale.engagement_days, "D")
    saves = t["saves"].to_pandas()
    recent = saves[saves["saved_at"] >= window]
    eng = t["engagements"].to_pandas()
    assert (eng["action"] == "save").sum() == len(recent)
    assert eng["request_id"].isna().all()
