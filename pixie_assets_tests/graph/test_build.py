"""Graph build and pruning on a hand-built case; save/load roundtrip."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pixie_assets.graph import (
    PruneConfig,
    WalkParams,
    build_pin_board_graph,
    load_graph,
    pixie_query,
    read_graph_meta,
    save_graph,
)
from pixie_assets.graph.store import ARRAY_FIELDS

T0 = np.datetime64("2026-10-01T00:00:00", "us")
HOUR = np.timedelta64(3600 * 10**6, "us")
CONFIG = PruneConfig(max_board_entropy=1.0, max_board_degree=5, max_pin_degree=2)


def _tables():
    """Boards: 1001 topical (101,102,103,108); 1002 (101,102); 1003 (101,103); 1004 mixed over
    four topics (entropy ln 4 > 1); 1005 six pins (degree 6 > 5); 1006 (101).
    Pin 101 is on four kept boards, so the cap of 2 keeps its two most recent: 1001 (re-saved
    at t=5) and 1006 (t=4). One save is after the cutoff; one names an unknown pin."""
    pins = pd.DataFrame(
        {
            "pin_id": [101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113],
            "locale": ["en-US"] * 2 + ["de-DE"] + ["en-US"] * 10,
            "topic": ["a", "a", "a", "b", "c", "d", "a", "a", "a", "a", "a", "a", "a"],
            "created_at": [T0] * 13,
        }
    )
    boards = pd.DataFrame(
        {
            "board_id": [1001, 1002, 1003, 1004, 1005, 1006],
            "owner_id": [1] * 6,
            "topic": ["a", "a", "a", None, "a", "a"],
        }
    )
    rows = [
        (101, 1001, 1), (101, 1002, 2), (101, 1003, 3), (101, 1006, 4), (101, 1001, 5),
        (102, 1001, 1), (102, 1002, 1), (103, 1001, 1), (103, 1003, 1),
        (108, 1001, 1), (108, 1005, 1),
        (104, 1004, 1), (105, 1004, 1), (106, 1004, 1), (107, 1004, 1),
        (109, 1005, 1), (110, 1005, 1), (111, 1005, 1), (112, 1005, 1), (113, 1005, 1),
        (999, 1001, 1),  # unknown pin
        (102, 1003, 100),  # after the cutoff
    ]  # fmt: skip
    saves = pd.DataFrame(
        {
            "user_id": np.ones(len(rows), dtype=np.int64),
            "pin_id": [r[0] for r in rows],
            "board_id": [r[1] for r in rows],
            "saved_at": [T0 + r[2] * HOUR for r in rows],
        }
    )
    return saves, pins, boards


CUTOFF = T0 + 50 * HOUR


def _edges(g) -> set[tuple[int, int]]:
    pin_of_edge = np.repeat(np.arange(g.n_pins), g.pin_degree)
    return set(
        zip(g.pin_ids[pin_of_edge].tolist(), g.board_ids[g.pin_boards].tolist(), strict=True)
    )


def test_prune_counts_on_hand_built_case():
    g, report = build_pin_board_graph(*_tables(), CUTOFF, CONFIG)
    assert report.as_dict() == {
        "edges_in": 21,
        "edges_unknown_node": 1,
        "edges_unique": 19,
        "boards_dropped_entropy": 1,
        "boards_dropped_degree": 1,
        "board_edges_dropped": 10,
        "pin_edges_dropped_cap": 2,
        "edges_kept": 7,
        "pins": 4,
        "boards": 4,
        "threshold/max_board_entropy": 1.0,
        "threshold/max_board_degree": 5.0,
        "threshold/max_pin_degree": 2.0,
    }
    assert _edges(g) == {
        (101, 1001), (101, 1006),  # the cap kept the two most recent
        (102, 1001), (102, 1002), (103, 1001), (103, 1003), (108, 1001),
    }  # fmt: skip
    assert g.meta["prune_report"] == report.as_dict()
    # per-node locale: board 1003 holds only the de-DE pin; 1001 is mostly en-US
    de, en = g.locale_code("de-DE"), g.locale_code("en-US")
    assert g.pin_locale[g.pin_index(np.array([103]))[0]] == de
    assert g.board_locale[g.board_index(np.array([1003, 1001]))].tolist() == [de, en]


def test_entropy_threshold_is_natural_log_entropy():
    # board 1004 has entropy ln 4 ≈ 1.386: kept just above, dropped just below
    saves, pins, boards = _tables()
    keep = PruneConfig(math.log(4) + 1e-9, 5, 2)
    drop = PruneConfig(math.log(4) - 1e-9, 5, 2)
    assert build_pin_board_graph(saves, pins, boards, CUTOFF, keep)[1].boards_dropped_entropy == 0
    assert build_pin_board_graph(saves, pins, boards, CUTOFF, drop)[1].boards_dropped_entropy == 1


def test_no_cutoff_and_arrow_tables():
    saves, pins, boards = _tables()
    g, report = build_pin_board_graph(
        pa.Table.from_pandas(saves), pa.Table.from_pandas(pins), pa.Table.from_pandas(boards),
        None, CONFIG,
    )  # fmt: skip
    assert report.edges_in == 22
    assert (102, 1003) in _edges(g)


def test_pruned_and_absent_query_pins_give_empty_results():
    g, _ = build_pin_board_graph(*_tables(), CUTOFF, CONFIG)
    for ids in ([107], [104, 999_999], [109]):  # only on pruned boards / unknown
        out = pixie_query(g, np.array(ids), None, WalkParams(n_steps=1000))
        assert out.empty and list(out.columns) == [
            "pin_id", "visit_count", "visit_rank", "query_hits", "pin_degree",
        ]  # fmt: skip


def test_empty_saves_build_an_empty_graph():
    saves, pins, boards = _tables()
    g, report = build_pin_board_graph(saves.iloc[:0], pins, boards, CUTOFF, CONFIG)
    assert g.n_pins == 0 and g.n_edges == 0 and report.edges_kept == 0
    assert pixie_query(g, np.array([101]), None, WalkParams(n_steps=100)).empty


def test_save_load_roundtrip_memory_mapped(tmp_path):
    g, report = build_pin_board_graph(*_tables(), CUTOFF, CONFIG)
    save_graph(g, tmp_path / "graph")
    save_graph(g, tmp_path / "graph")  # overwriting an existing graph is fine
    h = load_graph(tmp_path / "graph")
    for name in ARRAY_FIELDS:
        a, b = getattr(g, name), getattr(h, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
        assert isinstance(b.base, np.memmap), name
        assert not b.flags.writeable
    assert h.locales == g.locales and h.meta == g.meta
    assert read_graph_meta(tmp_path / "graph")["meta"]["prune_report"] == report.as_dict()
    params = WalkParams(n_steps=5_000, seed=3)
    q = np.array([101, 102])
    pd.testing.assert_frame_equal(pixie_query(g, q, None, params), pixie_query(h, q, None, params))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph"]  # no temp dirs left


def test_graph_holds_only_flat_arrays():
    g, _ = build_pin_board_graph(*_tables(), CUTOFF, CONFIG)
    assert g.nbytes() >= g.csr_nbytes()
    for name in ("pin_ids", "board_ids", "pin_locale", "board_locale"):
        assert getattr(g, name).dtype != object


@pytest.mark.parametrize("bad", [dict(max_board_entropy=-1.0), dict(max_pin_degree=0)])
def test_prune_config_validates(bad):
    with pytest.raises(ValueError):
        PruneConfig(**bad)


def _topic_world(topics_per_pin, boards):
    """Saves of hand-made boards (lists of pin ids); pin p has topic topics_per_pin[p]."""
    rows = [(p, b) for b, pins_on in enumerate(boards) for p in pins_on]
    saves = pd.DataFrame(
        {
            "user_id": 1,
            "pin_id": [p for p, _ in rows],
            "board_id": [b for _, b in rows],
            "saved_at": pd.Timestamp("2026-01-01"),
        }
    )
    pins = pd.DataFrame(
        {
            "pin_id": range(len(topics_per_pin)),
            "locale": "en-US",
            "topic": topics_per_pin,
        }
    )
    boards_table = pd.DataFrame({"board_id": range(len(boards))})
    return saves, pins, boards_table


def test_entropy_threshold_comes_from_the_data():
    """30 coherent boards (one topic each) and 3 boards mixing 6 topics: the fence drops the
    mixed ones. With fine-grained topics (every pin its own tag) every board is "mixed" by a
    fixed 1-nat threshold, while the fence keeps them all."""
    coarse = [f"t{p // 6}" for p in range(60)]  # 10 topics of 6 pins
    coherent = [list(range(6 * (b % 10), 6 * (b % 10) + 6)) for b in range(30)]
    mixed = [[0, 6, 12, 18, 24, 30], [1, 7, 13, 19, 25, 31], [2, 8, 14, 20, 26, 32]]
    g, report = build_pin_board_graph(*_topic_world(coarse, coherent + mixed), None)
    assert report.boards_dropped_entropy == 3
    assert math.log(2) <= report.thresholds.max_board_entropy < math.log(6)

    fine = [f"tag{p}" for p in range(60)]
    _, fixed = build_pin_board_graph(
        *_topic_world(fine, coherent), None, PruneConfig(max_board_entropy=1.0)
    )
    assert fixed.boards_dropped_entropy == 30
    _, adaptive = build_pin_board_graph(*_topic_world(fine, coherent), None)
    assert adaptive.boards_dropped_entropy == 0
    assert adaptive.as_dict()["threshold/max_board_entropy"] >= math.log(6)


def test_pruning_off_keeps_every_edge_and_topics_beyond_int16():
    topics = [f"tag{p}" for p in range(40_000)]  # more distinct topics than int16 holds
    boards = [[p, p + 1] for p in range(0, 40_000, 2)] + [list(range(0, 40_000, 500))]
    g, report = build_pin_board_graph(*_topic_world(topics, boards), None, PruneConfig.off())
    assert report.edges_kept == report.edges_unique == sum(len(b) for b in boards)
    assert report.boards_dropped_entropy == report.boards_dropped_degree == 0
    assert report.pin_edges_dropped_cap == 0
