"""Build the pruned pin–board graph of one day from the saves table (docs/architecture.md §4).

Pipeline, every step O(E) over edges (sorting only over nodes):
saves before the cutoff → dense pin/board positions → group by pin (counting sort) → dedupe
(pin, board) keeping the latest save time → board topic entropy and degree → drop noisy boards →
cap each pin to its most recent edges → drop isolated nodes, relabel by degree, both CSRs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from pixie_assets.graph.csr import (
    assemble_bipartite,
    dedupe_rows,
    group_by_row,
    positions_in_sorted,
    transpose,
)
from pixie_assets.graph.store import PinBoardGraph, make_graph


@dataclass(frozen=True)
class PruneConfig:
    """Pruning thresholds (Pixie §3.3: noisy boards and over-popular pins hurt walk quality).

    A threshold left at ``None`` (the default) is read off the data being pruned, because what
    counts as "noisy" or "over-popular" depends on how topics and collections are made, not on
    Pinterest's numbers (``resolve_thresholds``; the values used are in the ``PruneReport``):

    - max_board_entropy: Tukey's outlier fence Q3 + 1.5·IQR of the topic entropy (nats) of the
      boards with at least 3 pins, and at least ln 2 (a board split evenly between two topics is
      not noise). On a Pinterest-like catalogue (a few dozen topics, ~10% mixed boards) this
      lands near 1 nat; where topics are fine-grained (free-text tags, genre combinations) every
      board is "mixed" by a fixed threshold, and the fence keeps all but the outliers.
    - max_board_degree / max_pin_degree: the far-out fence Q3 + 3·IQR of log degree, and at
      least 20,000 / 1,000 (catch-all boards turn the walk into a popularity sampler; a viral
      pin keeps its most recent edges, which bounds fan-out and memory as Pixie does).

    A number fixes the threshold; ``PruneConfig.off()`` prunes nothing.
    """

    max_board_entropy: float | None = None
    max_board_degree: int | None = None
    max_pin_degree: int | None = None

    def __post_init__(self) -> None:
        if self.max_board_entropy is not None and self.max_board_entropy < 0:
            raise ValueError("max_board_entropy must be >= 0")
        for name in ("max_board_degree", "max_pin_degree"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError("max_board_degree and max_pin_degree must be >= 1")

    @classmethod
    def off(cls) -> PruneConfig:
        """No pruning at all (the plain walk of the replay's reference ranker)."""
        return cls(math.inf, 2**62, 2**62)


MIN_BOARD_ENTROPY = math.log(2)
MIN_BOARD_DEGREE_CAP = 20_000
MIN_PIN_DEGREE_CAP = 1_000
ENTROPY_MIN_PINS = 3


def tukey_fence(values: np.ndarray, k: float) -> float:
    """Q3 + k·IQR of ``values`` (NaN when empty): above it a value is an outlier (k = 1.5) or
    far out (k = 3) in the data's own distribution."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return math.nan
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return float(q3 + k * (q3 - q1))


def _degree_cap(degrees: np.ndarray, floor: int) -> int:
    fence = tukey_fence(np.log(degrees[degrees > 0]), 3.0)
    if math.isnan(fence) or fence > 40:
        return floor
    return max(floor, int(math.ceil(math.exp(fence))))


def resolve_thresholds(
    config: PruneConfig,
    board_entropy: np.ndarray,
    board_degree: np.ndarray,
    pin_degree: np.ndarray,
) -> PruneConfig:
    """The thresholds the build applies: fixed ones as given, the others from the data."""
    entropy = config.max_board_entropy
    if entropy is None:
        fence = tukey_fence(board_entropy[board_degree >= ENTROPY_MIN_PINS], 1.5)
        entropy = MIN_BOARD_ENTROPY if math.isnan(fence) else max(MIN_BOARD_ENTROPY, fence)
    board_cap = config.max_board_degree
    if board_cap is None:
        board_cap = _degree_cap(board_degree, MIN_BOARD_DEGREE_CAP)
    pin_cap = config.max_pin_degree
    if pin_cap is None:
        pin_cap = _degree_cap(pin_degree, MIN_PIN_DEGREE_CAP)
    return PruneConfig(float(entropy), int(board_cap), int(pin_cap))


@dataclass(frozen=True)
class PruneReport:
    """What the build kept and removed; published as asset metadata.

    edges_in: save rows before the cutoff. edges_unknown_node: of those, rows whose pin or board
    is missing from the pins/boards tables. edges_unique: distinct (pin, board) pairs left.
    boards_dropped_entropy: boards over max_board_entropy. boards_dropped_degree: boards over
    max_board_degree that were not already dropped for entropy (the two counts are disjoint).
    board_edges_dropped: unique edges removed with those boards. pin_edges_dropped_cap: edges
    removed by the per-pin cap (oldest first). edges_kept/pins/boards: the final graph.
    """

    edges_in: int
    edges_unknown_node: int
    edges_unique: int
    boards_dropped_entropy: int
    boards_dropped_degree: int
    board_edges_dropped: int
    pin_edges_dropped_cap: int
    edges_kept: int
    pins: int
    boards: int
    thresholds: PruneConfig = field(default_factory=PruneConfig)  # the values applied

    def as_dict(self) -> dict[str, float]:
        """Counts as ints, and the applied thresholds as ``threshold/<name>``."""
        out: dict[str, float] = {k: int(v) for k, v in asdict(self).items() if k != "thresholds"}
        for name, value in asdict(self.thresholds).items():
            out[f"threshold/{name}"] = float(value)
        return out


# --- table access ----------------------------------------------------------------------------


def _column(table: Any, name: str) -> np.ndarray:
    """A column of a pandas DataFrame or pyarrow Table as numpy (no copy where possible)."""
    if isinstance(table, pd.DataFrame):
        return table[name].to_numpy()
    col = table.column(name)
    if hasattr(col, "combine_chunks"):
        col = col.combine_chunks()
    return col.to_numpy(zero_copy_only=False)


def _micros(values: np.ndarray) -> np.ndarray:
    """Timestamps as int64 microseconds since the epoch."""
    return np.asarray(values).astype("datetime64[us]").view(np.int64)


def _codes(
    values: np.ndarray, dtype: type[np.integer] = np.int16
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes over a sorted vocabulary (so codes are stable across days). Topics take
    int32: free-text tags run to tens of thousands of distinct values."""
    codes, vocab = pd.factorize(pd.Series(values, dtype="object").fillna(""), sort=True)
    return codes.astype(dtype), tuple(str(v) for v in vocab)


# --- numba passes ----------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _board_topic_entropy(board_indptr, board_pins, pin_topic, n_topics):
    """Shannon entropy (nats) of the topic distribution of each board's pins.
    H = log n - (1/n) Σ c log c, with a small reused histogram reset via the touched topics."""
    n_boards = len(board_indptr) - 1
    out = np.zeros(n_boards, dtype=np.float64)
    hist = np.zeros(n_topics, dtype=np.int64)
    touched = np.empty(n_topics, dtype=np.int64)
    for b in range(n_boards):
        s = board_indptr[b]
        n = board_indptr[b + 1] - s
        if n == 0:
            continue
        nt = 0
        for e in range(s, s + n):
            t = pin_topic[board_pins[e]]
            if hist[t] == 0:
                touched[nt] = t
                nt += 1
            hist[t] += 1
        acc = 0.0
        for i in range(nt):
            c = hist[touched[i]]
            acc += c * np.log(c)
            hist[touched[i]] = 0
        h = np.log(n) - acc / n
        out[b] = h if h > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True)
def _filter_and_cap(indptr, boards, times, keep_board, cap, new_indptr):
    """Keep edges to kept boards, then at most ``cap`` per pin, the most recent ones (ties at the
    cut resolved by row order). Compacts in place, row pointer into ``new_indptr``; returns
    (n kept, n dropped by the cap)."""
    new_indptr[0] = 0
    out = 0
    n_capped = 0
    scratch = np.empty(cap + 1, dtype=np.int64)
    for p in range(len(indptr) - 1):
        row_start = out
        for e in range(indptr[p], indptr[p + 1]):
            b = boards[e]
            if keep_board[b]:
                boards[out] = b
                times[out] = times[e]
                out += 1
        k = out - row_start
        if k > cap:
            if len(scratch) < k:
                scratch = np.empty(k, dtype=np.int64)
            neg = scratch[:k]
            for i in range(k):
                neg[i] = -times[row_start + i]
            kth = -np.partition(neg, cap - 1)[cap - 1]  # cap-th most recent time
            n_newer = 0
            for i in range(k):
                if times[row_start + i] > kth:
                    n_newer += 1
            ties_left = cap - n_newer
            w = row_start
            for i in range(row_start, row_start + k):
                t = times[i]
                if t > kth or (t == kth and ties_left > 0):
                    if t == kth:
                        ties_left -= 1
                    boards[w] = boards[i]
                    times[w] = t
                    w += 1
            n_capped += k - cap
            out = w
        new_indptr[p + 1] = out
    return out, n_capped


@njit(cache=True, nogil=True)
def _majority_code(indptr, members, member_code, n_codes):
    """Most common code among each row's members (ties → smallest code); -1 for empty rows."""
    n = len(indptr) - 1
    out = np.full(n, -1, dtype=np.int16)
    hist = np.zeros(max(n_codes, 1), dtype=np.int64)
    for r in range(n):
        for e in range(indptr[r], indptr[r + 1]):
            c = member_code[members[e]]
            if c >= 0:
                hist[c] += 1
        best = -1
        best_n = 0
        for c in range(n_codes):
            if hist[c] > best_n:
                best_n = hist[c]
                best = c
            hist[c] = 0
        out[r] = best
    return out


# --- the build -------------------------------------------------------------------------------


def _sorted_unique_first(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique node ids and, for each, the table row of its first occurrence (node-sized
    sort, not edge-sized)."""
    uniq, first = np.unique(ids, return_index=True)
    return uniq.astype(np.int64), first


def build_pin_board_graph(
    saves: Any,
    pins: Any,
    boards: Any,
    cutoff: np.datetime64 | None,
    config: PruneConfig | None = None,
) -> tuple[PinBoardGraph, PruneReport]:
    """Graph of all saves with ``saved_at < cutoff`` (all saves if None), pruned per ``config``.

    ``saves``/``pins``/``boards`` are pandas DataFrames or pyarrow Tables with the contract
    columns. Entropy uses the topics of the pins saved on a board (the boards table's own topic
    is not trusted). Saves naming a pin or board absent from its table are dropped and counted.
    """
    config = config or PruneConfig()
    pin_id = np.asarray(_column(saves, "pin_id"), dtype=np.int64)
    board_id = np.asarray(_column(saves, "board_id"), dtype=np.int64)
    saved_at = _micros(_column(saves, "saved_at"))
    if cutoff is not None:
        before = saved_at < np.datetime64(cutoff, "us").astype(np.int64)
        pin_id, board_id, saved_at = pin_id[before], board_id[before], saved_at[before]
    edges_in = len(pin_id)

    pin_universe, pin_rows = _sorted_unique_first(np.asarray(_column(pins, "pin_id"), np.int64))
    board_universe, _ = _sorted_unique_first(np.asarray(_column(boards, "board_id"), np.int64))
    pin_topic, _topics = _codes(_column(pins, "topic")[pin_rows], np.int32)
    pin_locale, locales = _codes(_column(pins, "locale")[pin_rows])

    p = positions_in_sorted(pin_universe, pin_id)
    b = positions_in_sorted(board_universe, board_id)
    del pin_id, board_id
    known = (p >= 0) & (b >= 0)
    n_known = int(np.count_nonzero(known))
    if n_known < edges_in:
        p, b, saved_at = p[known], b[known], saved_at[known]
    del known
    n_pins0, n_boards0 = len(pin_universe), len(board_universe)

    indptr, nbrs, times = group_by_row(p, b, n_pins0, saved_at)
    del p, b, saved_at
    indptr, nbrs, times = dedupe_rows(indptr, nbrs, n_boards0, times)
    edges_unique = len(nbrs)

    b_indptr, b_pins = transpose(indptr, nbrs, n_boards0)
    board_degree = np.diff(b_indptr)
    entropy = _board_topic_entropy(b_indptr, b_pins, pin_topic, max(len(_topics), 1))
    del b_indptr, b_pins
    applied = resolve_thresholds(config, entropy, board_degree, np.diff(indptr))
    too_mixed = entropy > applied.max_board_entropy
    too_big = (board_degree > applied.max_board_degree) & ~too_mixed
    keep_board = ~(too_mixed | too_big)

    capped_indptr = np.empty_like(indptr)
    largest = int(np.diff(indptr).max()) if len(indptr) > 1 else 0
    n_kept, n_capped = _filter_and_cap(
        indptr, nbrs, times, keep_board, min(applied.max_pin_degree, largest + 1), capped_indptr
    )
    indptr = capped_indptr
    nbrs = nbrs[:n_kept]
    del times

    parts = assemble_bipartite(indptr, nbrs, n_boards0)
    del indptr, nbrs
    pin_old, board_old = parts.pop("pin_old"), parts.pop("board_old")
    pin_locale_new = pin_locale[pin_old]
    arrays = {
        **parts,
        "pin_ids": pin_universe[pin_old],
        "board_ids": board_universe[board_old],
        "pin_locale": pin_locale_new,
        "board_locale": _majority_code(
            parts["board_indptr"], parts["board_pins"], pin_locale_new, len(locales)
        ),
    }
    report = PruneReport(
        edges_in=edges_in,
        edges_unknown_node=edges_in - n_known,
        edges_unique=edges_unique,
        boards_dropped_entropy=int(np.count_nonzero(too_mixed)),
        boards_dropped_degree=int(np.count_nonzero(too_big)),
        board_edges_dropped=int(board_degree[~keep_board].sum()),
        pin_edges_dropped_cap=int(n_capped),
        edges_kept=int(len(parts["pin_boards"])),
        pins=int(len(pin_old)),
        boards=int(len(board_old)),
        thresholds=applied,
    )
    meta = {
        "cutoff": None if cutoff is None else str(np.datetime64(cutoff, "us")),
        "prune_config": asdict(config),
        "prune_thresholds": asdict(applied),
        "prune_report": report.as_dict(),
    }
    return make_graph(arrays, locales, meta), report


def graph_from_index_edges(
    pin_idx: np.ndarray,
    board_idx: np.ndarray,
    n_pins: int,
    n_boards: int,
    pin_ids: np.ndarray | None = None,
    board_ids: np.ndarray | None = None,
    pin_locale: np.ndarray | None = None,
    locales: tuple[str, ...] = ("und",),
) -> PinBoardGraph:
    """Graph straight from dense int edge arrays (no pruning): dedupe, relabel, both CSRs.

    For benchmarks and tests; ``pin_ids``/``board_ids`` must be ascending (default: the
    indices themselves). Edge order is irrelevant."""
    pin_ids = np.arange(n_pins, dtype=np.int64) if pin_ids is None else pin_ids
    board_ids = np.arange(n_boards, dtype=np.int64) if board_ids is None else board_ids
    if pin_locale is None:
        pin_locale = np.zeros(n_pins, dtype=np.int16)
    indptr, nbrs, _ = group_by_row(
        np.asarray(pin_idx, np.int32), np.asarray(board_idx, np.int32), n_pins
    )
    indptr, nbrs, _ = dedupe_rows(indptr, nbrs, n_boards)
    parts = assemble_bipartite(indptr, nbrs, n_boards)
    del indptr, nbrs
    pin_old, board_old = parts.pop("pin_old"), parts.pop("board_old")
    pin_locale_new = np.asarray(pin_locale, np.int16)[pin_old]
    arrays = {
        **parts,
        "pin_ids": np.asarray(pin_ids, np.int64)[pin_old],
        "board_ids": np.asarray(board_ids, np.int64)[board_old],
        "pin_locale": pin_locale_new,
        "board_locale": _majority_code(
            parts["board_indptr"], parts["board_pins"], pin_locale_new, len(locales)
        ),
    }
    return make_graph(arrays, locales, {})
