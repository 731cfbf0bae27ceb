"""CSR building blocks against naive Python references on random edges."""

from __future__ import annotations

import numpy as np
import pytest

from pixie_assets.graph import graph_from_index_edges
from pixie_assets.graph.csr import (
    dedupe_rows,
    degree_class,
    group_by_row,
    lookup_runs,
    positions_in_sorted,
    relabel_by_degree,
    transpose,
)


def _random_edges(seed: int, n_rows: int, n_cols: int, n_edges: int):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n_rows, n_edges).astype(np.int32)
    cols = rng.integers(0, n_cols, n_edges).astype(np.int32)
    times = rng.integers(0, 1000, n_edges).astype(np.int64)
    return rows, cols, times


def test_group_by_row_matches_naive_stable_grouping():
    rows, cols, times = _random_edges(0, 50, 30, 2_000)
    indptr, out, out_t = group_by_row(rows, cols, 50, times)
    for r in range(50):
        naive = [(c, t) for rr, c, t in zip(rows, cols, times, strict=True) if rr == r]
        got = list(
            zip(out[indptr[r] : indptr[r + 1]], out_t[indptr[r] : indptr[r + 1]], strict=True)
        )
        assert got == naive
    assert indptr.dtype == np.int64 and out.dtype == np.int32


def test_dedupe_keeps_first_position_and_latest_time():
    rows, cols, times = _random_edges(1, 40, 10, 1_500)  # many duplicates
    indptr, out, out_t = group_by_row(rows, cols, 40, times)
    new_indptr, dcols, dtimes = dedupe_rows(indptr, out.copy(), 10, out_t.copy())
    for r in range(40):
        seen: dict[int, int] = {}
        for c, t in zip(
            out[indptr[r] : indptr[r + 1]], out_t[indptr[r] : indptr[r + 1]], strict=True
        ):
            seen[int(c)] = max(seen.get(int(c), -1), int(t))
        got_c = dcols[new_indptr[r] : new_indptr[r + 1]].tolist()
        got_t = dtimes[new_indptr[r] : new_indptr[r + 1]].tolist()
        assert got_c == list(seen)  # dict keeps first-occurrence order
        assert got_t == [seen[c] for c in got_c]


def test_transpose_matches_naive():
    rows, cols, _ = _random_edges(2, 60, 25, 1_000)
    indptr, out, _ = group_by_row(rows, cols, 60)
    t_indptr, t_out = transpose(indptr, out, 25)
    for c in range(25):
        naive = [r for r in range(60) for x in out[indptr[r] : indptr[r + 1]] if x == c]
        assert t_out[t_indptr[c] : t_indptr[c + 1]].tolist() == naive


def test_relabel_orders_by_descending_degree_class_then_old_label():
    degree = np.array([0, 5, 1, 8, 2, 0, 3, 17, 1])
    old_of_new, new_of_old, runs = relabel_by_degree(degree)
    assert sorted(old_of_new.tolist()) == [1, 2, 3, 4, 6, 7, 8]  # degree-0 nodes dropped
    cls = degree_class(degree[old_of_new])
    assert np.all(np.diff(cls) <= 0)
    for lo, hi in zip(runs[:-1], runs[1:], strict=True):
        assert np.all(np.diff(old_of_new[lo:hi]) > 0)  # ascending old label inside a class
    assert new_of_old[0] == -1 and new_of_old[5] == -1
    assert np.array_equal(new_of_old[old_of_new], np.arange(len(old_of_new)))


def test_graph_from_index_edges_equals_naive_edge_set():
    rows, cols, _ = _random_edges(3, 300, 80, 3_000)
    pin_ids = np.sort(np.random.default_rng(9).choice(10**12, 300, replace=False))
    board_ids = np.arange(80, dtype=np.int64) * 7 + 1_000
    g = graph_from_index_edges(rows, cols, 300, 80, pin_ids, board_ids)
    naive = {(int(pin_ids[r]), int(board_ids[c])) for r, c in zip(rows, cols, strict=True)}
    pin_of_edge = np.repeat(np.arange(g.n_pins), g.pin_degree)
    got = set(zip(g.pin_ids[pin_of_edge].tolist(), g.board_ids[g.pin_boards].tolist(), strict=True))
    assert got == naive and g.n_edges == len(naive)
    board_of_edge = np.repeat(np.arange(g.n_boards), g.board_degree)
    rev = set(
        zip(g.pin_ids[g.board_pins].tolist(), g.board_ids[board_of_edge].tolist(), strict=True)
    )
    assert rev == naive
    assert np.all(np.diff(degree_class(g.pin_degree)) <= 0)
    assert g.max_log_degree == pytest.approx(np.log(g.pin_degree.max()))
    assert g.pin_boards.dtype == np.int32 and g.pin_indptr.dtype == np.int64
    # id → index for every id, and misses
    assert np.array_equal(g.pin_index(g.pin_ids), np.arange(g.n_pins))
    assert np.array_equal(g.board_index(g.board_ids), np.arange(g.n_boards))
    assert g.pin_index(np.array([-5, 10**13])).tolist() == [-1, -1]


@pytest.mark.parametrize("spread", [1, 10**15])  # dense direct table / hash fallback
def test_positions_in_sorted(spread):
    rng = np.random.default_rng(4)
    ids = np.unique(rng.integers(0, 1_000 * spread, 500)).astype(np.int64)
    queries = np.concatenate([ids[::-1], np.array([-1, ids[-1] + 1, ids[0] - 1])])
    pos = positions_in_sorted(ids, queries)
    assert pos[: len(ids)].tolist() == list(range(len(ids) - 1, -1, -1))
    assert pos[len(ids) :].tolist() == [-1, -1, -1]


def test_lookup_runs_searches_each_sorted_run():
    ids = np.array([5, 9, 40, 1, 7, 100, 2], dtype=np.int64)  # runs: [5,9,40] [1,7,100] [2]
    runs = np.array([0, 3, 6, 7], dtype=np.int64)
    got = lookup_runs(ids, runs, np.array([7, 2, 40, 3, 100, 5]))
    assert got.tolist() == [4, 6, 2, -1, 5, 0]
