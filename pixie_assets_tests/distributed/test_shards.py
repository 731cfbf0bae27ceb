"""Shards and runners: a request walks the same whichever shard it lands in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import SettingsError, parse_dask_setting
from pixie_assets.distributed import InProcessRunner, plan_shards
from pixie_assets.graph import build_pin_board_graph
from pixie_assets.graph.build import PruneConfig
from pixie_assets.serving.candidates import request_batch, walk_requests


def test_shards_cover_every_item_once_in_order():
    shards = plan_shards(12_345, 5_000)
    assert [(s.start, s.stop) for s in shards] == [(0, 5000), (5000, 10000), (10000, 12345)]
    assert [s.part_name for s in shards][-1] == "part-00002.parquet"
    assert [(s.start, s.stop) for s in plan_shards(0, 10)] == [(0, 0)]  # one, empty
    with pytest.raises(ValueError, match="positive"):
        plan_shards(10, 0)


def test_the_dask_setting_is_parsed_or_refused_by_value():
    assert parse_dask_setting("").in_process
    assert parse_dask_setting("local:2").workers == 2
    assert parse_dask_setting("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    for bad in ("local:0", "local", "dask://x:1", "tcp://host"):
        with pytest.raises(SettingsError, match="PIXIE_DASK"):
            parse_dask_setting(bad)


def test_in_process_runner_keeps_order():
    assert InProcessRunner().map(lambda x: x * x, [3, 1, 2]) == [9, 1, 4]


def test_a_request_walks_the_same_in_any_shard(tiny_world):
    """The day's candidates walked at once equal those walked shard by shard and concatenated:
    each request's RNG streams are keyed by its position in the day, not in its shard."""
    start = np.datetime64(tiny_world.start_day.isoformat())
    graph, _ = build_pin_board_graph(
        tiny_world.tables["saves"].to_pandas(),
        tiny_world.tables["pins"].to_pandas()[["pin_id", "locale", "topic"]],
        tiny_world.tables["boards"].to_pandas(),
        cutoff=start,
        config=PruneConfig(),
    )
    config = client_config("homefeed")
    rng = np.random.default_rng(0)
    pins = graph.pin_ids
    n = 300
    requests = pd.DataFrame(
        {"request_id": [f"r{i}" for i in range(n)], "user_id": rng.integers(0, 50, n), "ts": start}
    )
    queries = pd.DataFrame(
        {
            "request_id": requests["request_id"],
            "query_pin_ids": [rng.choice(pins, rng.integers(1, 6)) for _ in range(n)],
            "query_weights": None,
        }
    )
    queries["query_weights"] = queries["query_pin_ids"].map(lambda p: np.ones(len(p)))
    batch = request_batch(requests, queries)
    whole, _ = walk_requests(graph, batch, config, seed=11)
    parts = [
        walk_requests(graph, batch.iloc[s.start : s.stop], config, 11, offset=s.start)[0]
        for s in plan_shards(n, 70)
    ]
    pd.testing.assert_frame_equal(whole, pd.concat(parts, ignore_index=True))
    assert len(whole) > n  # candidates were found at all
