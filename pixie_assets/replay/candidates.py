"""Candidate generation for a replay window: how a ranker's candidates are made, and the walk.

A ``CandidateSource`` is the three choices that decide what Pixie returns — how the graph is
pruned, which pins a request starts from, and how the walk spends and ranks its steps. Two are
compared in every replay: the project's defaults (``pixie_source``: the client's query rule and
walk, the graph pruned by thresholds read off the data) and a plain random walk
(``plain_walk_source``: no pruning, the user's 5 most recent pins with equal weight, 20,000
steps, no early stopping, no boost, steps split equally), the reference that shows what the
defaults add. ``ablation_sources`` turns each default off in turn.

Requests are walked in batches (bounded memory: a batch's candidates are featurized and scored
before the next is walked), each with the RNG stream of its ``request_idx``, so the candidates do
not depend on the batch size, nor on where they are walked: in this process (``local_walker``),
or as tasks of a Dask cluster (``WalkCluster``) that walk the window's graph saved where every
worker reads it, a few batches ahead of the one being scored. The walk asks for ``K + e`` pins,
where ``e`` is the largest number of engaged pins among the batch's users (capped at K): after
the engaged ones are dropped, every request still has up to K candidates, ranked by visit count
(``visit_rank`` renumbered 1..n).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig
from pixie_assets.distributed import ShardRunner
from pixie_assets.graph import (
    PinBoardGraph,
    PruneConfig,
    WalkParams,
    cached_graph,
    pixie_batch,
    save_graph,
)
from pixie_assets.replay.history import WindowHistory
from pixie_assets.serving.candidates import CANDIDATE_COLUMNS, walk_params
from pixie_assets.serving.queries import QueryRule, query_pins


@dataclass(frozen=True)
class CandidateSource:
    """How one ranker's candidates are generated (the walk's ``top_k`` and seed are set per
    window)."""

    name: str
    prune: PruneConfig
    query: QueryRule
    walk: WalkParams


PLAIN_WALK_STEPS = 20_000
PLAIN_WALK_QUERY_PINS = 5


def pixie_source(config: ClientConfig) -> CandidateSource:
    """The project's defaults for ``config``: what serving does, on a graph pruned by the
    data's own thresholds."""
    return CandidateSource("pixie", PruneConfig(), QueryRule.of(config), walk_params(config, 0))


def plain_walk_source(config: ClientConfig) -> CandidateSource:
    """The reference: a plain random walk with restarts from the user's most recent pins."""
    walk = WalkParams(
        n_steps=PLAIN_WALK_STEPS,
        alpha=0.5,
        early_stop=False,
        boost=False,
        degree_scaled_steps=False,
    )
    query = QueryRule(max_pins=PLAIN_WALK_QUERY_PINS, half_life_days=None, action_weights=None)
    return CandidateSource("plain_walk", PruneConfig.off(), query, walk)


def ablation_sources(config: ClientConfig) -> list[CandidateSource]:
    """The defaults, each of their choices turned off alone, and the plain walk."""
    base = pixie_source(config)
    plain = plain_walk_source(config)
    return [
        base,
        replace(base, name="no_pruning", prune=PruneConfig.off()),
        replace(base, name="fixed_pruning", prune=PruneConfig(1.0, 20_000, 1_000)),
        replace(base, name="calendar_recency", query=replace(base.query, recency="calendar")),
        replace(
            base,
            name="recent_equal_query",
            query=replace(plain.query, max_pins=base.query.max_pins),
        ),
        replace(base, name="5_query_pins", query=replace(base.query, max_pins=5)),
        replace(base, name="no_early_stop", walk=replace(base.walk, early_stop=False)),
        replace(base, name="no_boost", walk=replace(base.walk, boost=False)),
        replace(
            base,
            name="degree_scaled_steps",
            walk=replace(base.walk, degree_scaled_steps=not base.walk.degree_scaled_steps),
        ),
        replace(base, name="5x_steps", walk=replace(base.walk, n_steps=5 * base.walk.n_steps)),
        plain,
    ]


# Walks each batch of queries (request_idx, pin_id, weight) with its parameters, in order.
BatchWalker = Callable[[Iterable[tuple[pd.DataFrame, WalkParams]]], Iterator[pd.DataFrame]]


def local_walker(graph: PinBoardGraph) -> BatchWalker:
    """Every batch walked in this process, one after the other, with every core."""

    def walk(jobs: Iterable[tuple[pd.DataFrame, WalkParams]]) -> Iterator[pd.DataFrame]:
        for queries, params in jobs:
            yield pixie_batch(graph, queries, params)

    return walk


@dataclass(frozen=True)
class BatchWalkTask:
    """One batch of a window's queries to walk on the graph saved in ``graph_dir``."""

    graph_dir: str
    queries: pd.DataFrame
    params: WalkParams
    threads: int | None


def walk_batch(task: BatchWalkTask) -> pd.DataFrame:
    """A worker's walk of one batch; the process maps each window's graph once."""
    return pixie_batch(cached_graph(task.graph_dir), task.queries, task.params, task.threads)


@dataclass(frozen=True)
class WalkCluster:
    """Where a replay's walks run when a cluster is configured: ``runner``'s workers, on each
    window's graph saved under ``scratch`` (a folder every worker reads)."""

    runner: ShardRunner
    scratch: Path

    def walker(self, graph: PinBoardGraph, name: str) -> BatchWalker:
        graph_dir = self.scratch / name
        save_graph(graph, graph_dir)
        runner = self.runner

        def walk(jobs: Iterable[tuple[pd.DataFrame, WalkParams]]) -> Iterator[pd.DataFrame]:
            tasks = (
                BatchWalkTask(str(graph_dir), queries, params, runner.task_threads)
                for queries, params in jobs
            )
            return runner.imap(walk_batch, tasks)

        return walk


def request_queries(
    history: WindowHistory, engagements: pd.DataFrame, rule: QueryRule
) -> pd.DataFrame:
    """The window's requests with their query pins under ``rule`` (request_idx, user_id,
    query_pin_ids, query_weights; an empty list where the user has no usable pin), from the
    engagements before the window."""
    before = engagements[engagements["ts"] < pd.Timestamp(history.window.start)]
    pins = query_pins(before, rule)
    per_user = pins.groupby("user_id", sort=True).agg(
        query_pin_ids=("pin_id", list), query_weights=("weight", list)
    )
    requests = history.requests[["request_idx", "request_id", "user_id", "engaged"]].join(
        per_user, on="user_id"
    )
    empty = requests["query_pin_ids"].isna()
    blank = pd.Series([[]] * int(empty.sum()), dtype=object).values
    requests.loc[empty, "query_pin_ids"] = blank
    requests.loc[empty, "query_weights"] = blank
    return requests


def window_seed(seed: int, history: WindowHistory, purpose: str) -> int:
    """A stable seed per (seed, window, purpose): the two windows of a replay walk with
    different streams, and a re-run repeats them exactly."""
    return zlib.crc32(f"{seed}|{history.window}|{purpose}".encode())


def candidate_batches(
    walker: BatchWalker,
    history: WindowHistory,
    requests: pd.DataFrame,
    walk: WalkParams,
    k: int,
    seed: int,
    batch_requests: int = 2048,
) -> Iterator[pd.DataFrame]:
    """Yield the candidates of successive batches of ``requests`` (``request_queries``), walked
    by ``walker``: ``CANDIDATE_COLUMNS`` plus ``request_idx`` and ``key`` (the (user, pin) pair
    key), ordered by request then visit rank, at most ``k`` per request, never a pin the user
    engaged with before the window."""
    requests = requests[requests["query_pin_ids"].map(len) > 0]
    stream_seed = window_seed(seed, history, "walks")
    ts = pd.Timestamp(history.window.start_time)

    def jobs() -> Iterator[tuple[pd.DataFrame, WalkParams]]:
        for lo in range(0, len(requests), batch_requests):
            batch = requests.iloc[lo : lo + batch_requests]
            extra = int(min(batch["engaged"].max(), k)) if len(batch) else 0
            lengths = batch["query_pin_ids"].map(len).to_numpy()
            queries = pd.DataFrame(
                {
                    "request_idx": np.repeat(batch["request_idx"].to_numpy(), lengths),
                    "pin_id": np.concatenate(batch["query_pin_ids"].to_list()).astype(np.int64),
                    "weight": np.concatenate(batch["query_weights"].to_list()).astype(np.float64),
                }
            )
            yield queries, replace(walk, top_k=k + extra, seed=stream_seed)

    for found in walker(jobs()):
        if not found.empty:
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
