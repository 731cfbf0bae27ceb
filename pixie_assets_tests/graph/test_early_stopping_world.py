"""Early stopping on the demo world: most of the full walk's top 100 at under half its steps."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from pixie_assets.graph import WalkParams, build_pin_board_graph, pixie_query

START_DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo_graph_and_queries(demo_world):
    world = demo_world
    t = world.tables
    graph, _ = build_pin_board_graph(
        t["saves"], t["pins"], t["boards"], np.datetime64(START_DAY.isoformat(), "us")
    )
    engaged = np.unique(t["engagements"].column("pin_id").to_numpy())
    engaged = engaged[graph.pin_index(engaged) >= 0]
    queries = np.random.default_rng(0).choice(engaged, 30, replace=False)
    return graph, queries


@pytest.mark.slow
def test_early_stopping_keeps_top_100_at_half_the_steps(demo_graph_and_queries):
    """Single-pin 100k-step walks with the default n_p/n_v vs the same walk without stopping.
    The two runs use different seeds, so the overlap also absorbs ordinary sampling noise (two
    full walks with different seeds agree on ~91% of their top 100 here). Thresholds are on
    the mean over 30 engaged pins: overlap ≥ 0.80 and steps ≤ 0.50 of the full walk."""
    graph, queries = demo_graph_and_queries
    overlaps, step_share = [], []
    for q in queries:
        full = pixie_query(graph, np.array([q]), None, WalkParams(early_stop=False, top_k=100))
        early = pixie_query(graph, np.array([q]), None, WalkParams(top_k=100, seed=1))
        assert full.attrs["steps"] == 100_000
        overlaps.append(len(set(full.pin_id) & set(early.pin_id)) / 100)
        step_share.append(early.attrs["steps"] / full.attrs["steps"])
    assert np.mean(overlaps) >= 0.80, np.mean(overlaps)
    assert np.mean(step_share) <= 0.50, np.mean(step_share)
