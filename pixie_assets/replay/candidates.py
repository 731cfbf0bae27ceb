"""Pixie candidates for a replay window's requests, with the user's engaged pins removed.

Requests are walked in batches (bounded memory: a batch's candidates are featurized and scored
before the next is walked), each with the RNG stream of its ``request_idx``, so the candidates do
not depend on the batch size. The walk asks for ``K + e`` pins, where ``e`` is the largest number
of engaged pins among the batch's users (capped at K): after the engaged ones are dropped, every
request still has up to K candidates, ranked by visit count (``visit_rank`` renumbered 1..n).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd

from pixie_assets.clients import ClientConfig
from pixie_assets.graph import PinBoardGraph, pixie_batch
from pixie_assets.replay.history import WindowHistory
from pixie_assets.serving.candidates import CANDIDATE_COLUMNS, walk_params


def window_seed(seed: int, history: WindowHistory, purpose: str) -> int:
    """A stable seed per (seed, window, purpose): the two windows of a replay walk with
    different streams, and a re-run repeats them exactly."""
    return zlib.crc32(f"{seed}|{history.window}|{purpose}".encode())


def candidate_batches(
    graph: PinBoardGraph,
    history: WindowHistory,
    config: ClientConfig,
    k: int,
    seed: int,
    batch_requests: int = 2048,
) -> Iterator[pd.DataFrame]:
    """Yield the candidates of successive batches of requests: ``CANDIDATE_COLUMNS`` plus
    ``request_idx`` and ``key`` (the (user, pin) pair key), ordered by request then visit rank,
    at most ``k`` per request, never a pin the user engaged with before the window."""
    requests = history.requests[history.requests["query_pin_ids"].map(len) > 0]
    stream_seed = window_seed(seed, history, "walks")
    ts = pd.Timestamp(history.window.start_time)
    for lo in range(0, len(requests), batch_requests):
        batch = requests.iloc[lo : lo + batch_requests]
        extra = int(min(batch["engaged"].max(), k)) if len(batch) else 0
        lengths = batch["query_pin_ids"].map(len).to_numpy()
        long = pd.DataFrame(
            {
                "request_idx": np.repeat(batch["request_idx"].to_numpy(), lengths),
                "pin_id": np.concatenate(batch["query_pin_ids"].to_list()).astype(np.int64),
                "weight": np.concatenate(batch["query_weights"].to_list()).astype(np.float64),
            }
        )
        params = replace(walk_params(config, stream_seed), top_k=k + extra)
        found = pixie_batch(graph, long, params)
        if found.empty:
            continue
        yield _without_engaged(found, history, k, ts)


def _without_engaged(
    found: pd.DataFrame, history: WindowHistory, k: int, ts: pd.Timestamp
) -> pd.DataFrame:
    """Drop each user's engaged pins from the walk's lists, renumber visit ranks, keep k.

    ``pixie_batch`` lists requests in ascending ``request_idx`` and each request's pins by visit
    rank, so the renumbering is positional (vectorised; the batch is millions of rows)."""
    request = found["request_idx"].to_numpy()
    if np.any(np.diff(request) < 0) or np.any(
        (np.diff(request) == 0) & (np.diff(found["visit_rank"].to_numpy()) < 0)
    ):
        found = found.sort_values(["request_idx", "visit_rank"], kind="stable")
        request = found["request_idx"].to_numpy()
    users = history.requests["user_id"].to_numpy()[request]  # request_idx is dense
    keys = history.codec.encode(users, found["pin_id"].to_numpy())
    fresh = ~history.engaged.contains(keys)
    request, users, keys = request[fresh], users[fresh], keys[fresh]
    first = np.r_[True, request[1:] != request[:-1]]
    starts = np.flatnonzero(first)
    rank = np.arange(len(request)) - starts[np.cumsum(first) - 1] + 1
    keep = rank <= k
    rows = np.flatnonzero(fresh)[keep]
    request = request[keep]
    batch_requests, codes = np.unique(request, return_inverse=True)
    request_ids = history.requests["request_id"].to_numpy()[batch_requests]
    out = pd.DataFrame(
        {
            "request_id": pd.Categorical.from_codes(codes, categories=request_ids),
            "user_id": users[keep],
            "ts": np.full(len(rows), ts.to_datetime64()).astype("datetime64[us]"),
            "pin_id": found["pin_id"].to_numpy()[rows],
            "visit_count": found["visit_count"].to_numpy()[rows],
            "visit_rank": rank[keep].astype(np.int32),
            "query_hits": found["query_hits"].to_numpy()[rows],
            "pin_degree": found["pin_degree"].to_numpy()[rows],
            "request_idx": request,
            "key": keys[keep],
        }
    )
    return out[[*CANDIDATE_COLUMNS, "request_idx", "key"]]
