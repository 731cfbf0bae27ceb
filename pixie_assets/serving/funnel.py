"""The funnel after Pixie: the lightweight score picks M candidates per request for the full
ranker, and the full ranker's top k are shown."""

from __future__ import annotations

import numpy as np


def rank_within_requests(
    request_codes: np.ndarray, score: np.ndarray, tiebreak: np.ndarray
) -> np.ndarray:
    """0-based rank of each row within its request by descending score (ties: ascending
    ``tiebreak``, e.g. visit_rank), in O(n log n) without a Python loop over requests."""
    order = np.lexsort((tiebreak, -score, request_codes))
    sorted_codes = request_codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    return rank


def request_codes(request_ids: np.ndarray) -> np.ndarray:
    """Dense integer codes of request ids (any hashable values)."""
    _, codes = np.unique(request_ids, return_inverse=True)
    return codes


def choose_for_full_ranker(
    request_codes: np.ndarray,
    lightweight_rank: np.ndarray,
    m: int,
    explore_slots: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Which candidates go to the full ranker: each request's top ``m - explore_slots`` by the
    lightweight score, plus ``explore_slots`` drawn uniformly from the rest of its candidates."""
    explore_slots = min(explore_slots, m)
    sent = lightweight_rank < m - explore_slots
    rest = np.flatnonzero(~sent)
    if explore_slots and len(rest):
        keys = rng.random(len(rest))
        draw = rank_within_requests(request_codes[rest], keys, np.zeros(len(rest)))
        sent[rest[draw < explore_slots]] = True
    return sent
