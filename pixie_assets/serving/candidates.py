"""Candidate generation for a batch of requests: queries in, top-K Pixie candidates out."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.files import write_parquet
from pixie_assets.distributed import Shard
from pixie_assets.graph import PinBoardGraph, WalkParams, cached_graph, pixie_batch, pixie_query

# Requests per shard: bounds a shard's memory and gives a cluster work to spread, whatever the
# cluster (so a partition's part files are the same in process and on Dask).
SHARD_REQUESTS = 5_000

CANDIDATE_COLUMNS = [
    "request_id", "user_id", "ts", "pin_id", "visit_count", "visit_rank", "query_hits",
    "pin_degree",
]  # fmt: skip


@dataclass(frozen=True)
class WalkRequestRow:
    """One request as the online path walks it: a row of a ``request_batch``."""

    request_id: str
    user_id: int
    ts: datetime
    query_pin_ids: np.ndarray
    query_weights: np.ndarray
    locale: str | None = None


@dataclass(frozen=True)
class CandidateStats:
    requests: int
    requests_without_candidates: int
    candidates: int
    mean_candidates_per_request: float
    walk_steps: int
    walk_seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.walk_steps / self.walk_seconds if self.walk_seconds > 0 else 0.0


def walk_params(config: ClientConfig, seed: int) -> WalkParams:
    return WalkParams(
        n_steps=config.walk_steps,
        alpha=config.restart_alpha,
        top_k=config.candidates_k,
        n_p=config.early_stop_pins,
        n_v=config.early_stop_visits,
        early_stop=True,
        locale_bias=config.locale_bias,
        seed=seed,
        degree_scaled_steps=config.degree_scaled_steps,
    )


def request_batch(
    requests: pd.DataFrame, queries: pd.DataFrame, user_locales: pd.Series | None = None
) -> pd.DataFrame:
    """The day's requests with their queries (and the user's locale when given), in the order
    that keys each request's RNG streams: its position here."""
    batch = requests[["request_id", "user_id", "ts"]].merge(queries, on="request_id", how="left")
    batch = batch.reset_index(drop=True)
    if user_locales is not None:
        batch["locale"] = batch["user_id"].map(user_locales)
    return batch


def _long_queries(batch: pd.DataFrame, offset: int, with_locale: bool) -> pd.DataFrame:
    """One row per (request, query pin), keyed by the request's position in the day (``offset``
    + its row here), which seeds its walks: a request walks the same wherever it is walked."""
    lengths = batch["query_pin_ids"].map(len).to_numpy()
    long = pd.DataFrame(
        {
            "request_idx": np.repeat(np.arange(len(batch), dtype=np.int64) + offset, lengths),
            "pin_id": np.concatenate([*batch["query_pin_ids"], np.zeros(0, np.int64)]).astype(
                np.int64
            ),
            "weight": np.concatenate([*batch["query_weights"], np.zeros(0)]).astype(np.float64),
        }
    )
    if with_locale:
        long["locale"] = np.repeat(batch["locale"].to_numpy(object), lengths)
    return long


def walk_requests(
    graph: PinBoardGraph,
    batch: pd.DataFrame,
    config: ClientConfig,
    seed: int,
    offset: int = 0,
    n_threads: int | None = None,
) -> tuple[pd.DataFrame, CandidateStats]:
    """Top-K candidates with their graph features (``CANDIDATE_COLUMNS``) for rows of a
    ``request_batch`` that start at position ``offset`` of the day."""
    with_locale = "locale" in batch and config.locale_bias > 0
    long = _long_queries(batch, offset, with_locale)
    started = time.perf_counter()
    if len(long):
        found = pixie_batch(graph, long, walk_params(config, seed), n_threads=n_threads)
    else:
        found = pd.DataFrame({"request_idx": np.zeros(0, np.int64)})
        found.attrs["total_steps"] = 0
    seconds = time.perf_counter() - started
    rows = found["request_idx"].to_numpy() - offset
    candidates = batch[["request_id", "user_id", "ts"]].iloc[rows].reset_index(drop=True)
    for column in ("pin_id", "visit_count", "visit_rank", "query_hits", "pin_degree"):
        candidates[column] = found[column].to_numpy() if len(found) else np.zeros(0)
    per_request = np.bincount(rows, minlength=len(batch))
    stats = CandidateStats(
        requests=len(batch),
        requests_without_candidates=int((per_request == 0).sum()),
        candidates=len(candidates),
        mean_candidates_per_request=float(per_request.mean()) if len(batch) else 0.0,
        walk_steps=int(found.attrs.get("total_steps", 0)),
        walk_seconds=seconds,
    )
    return candidates[CANDIDATE_COLUMNS], stats


def walk_request(
    graph: PinBoardGraph,
    request: WalkRequestRow,
    config: ClientConfig,
    seed: int,
) -> tuple[pd.DataFrame, int]:
    """Top-K candidates (``CANDIDATE_COLUMNS``) of one request and the steps its walks took:
    the online path. The walks run on the calling thread (``pixie_query``, safe beside other
    threads on one graph) and equal what ``walk_requests`` gives the same request at position
    0 of a ``request_batch`` with the same seed."""
    locale = request.locale if config.locale_bias > 0 else None
    found = pixie_query(
        graph, request.query_pin_ids, request.query_weights, walk_params(config, seed), locale
    )
    n = len(found)
    candidates = pd.DataFrame(
        {
            "request_id": np.full(n, request.request_id, dtype=object),
            "user_id": np.full(n, request.user_id, dtype=np.int64),
            "ts": np.full(n, np.datetime64(request.ts, "us")),
            **{column: found[column].to_numpy() for column in CANDIDATE_COLUMNS[3:]},
        }
    )
    return candidates, int(found.attrs.get("steps", 0))


def generate_candidates(
    graph: PinBoardGraph,
    requests: pd.DataFrame,
    queries: pd.DataFrame,
    config: ClientConfig,
    seed: int,
    user_locales: pd.Series | None = None,
) -> tuple[pd.DataFrame, CandidateStats]:
    """Top-K candidates per request with their graph features (``CANDIDATE_COLUMNS``), all
    requests at once in memory.

    ``requests`` has request_id, user_id, ts; ``queries`` has request_id, query_pin_ids,
    query_weights; ``user_locales`` maps user_id to locale for the optional locale bias."""
    return walk_requests(graph, request_batch(requests, queries, user_locales), config, seed)


@dataclass(frozen=True)
class WalkShardTask:
    """One shard of a day's ``request_batch`` to walk on the graph in ``graph_dir`` and write
    as ``out_dir/<part name>``; a picklable unit of work for any ``ShardRunner``."""

    shard: Shard
    batch: pd.DataFrame
    graph_dir: str
    out_dir: str
    config: ClientConfig
    seed: int
    threads: int | None = None

    def __reduce__(self):
        # The batch travels as an Arrow table: its query lists are a few contiguous buffers,
        # where pickle would send every request's small arrays as frames of their own (on
        # Dask that made shipping a 1,000-request shard cost as much as walking it).
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["batch"] = pa.Table.from_pandas(self.batch, preserve_index=False)
        return _walk_task_from_arrow, (fields,)


def _walk_task_from_arrow(fields: dict) -> WalkShardTask:
    return WalkShardTask(**{**fields, "batch": fields["batch"].to_pandas()})


@dataclass(frozen=True)
class WalkShardResult:
    """What the driver needs of a walked shard, without its candidates: counts per request,
    the distinct pins reached, and visit count sums by rank (the visit-count curve)."""

    stats: CandidateStats
    per_request: np.ndarray
    distinct_pins: np.ndarray
    rank_visits: np.ndarray
    rank_counts: np.ndarray


def walk_shard(task: WalkShardTask) -> WalkShardResult:
    """Walk one shard and write its candidates as one part file. Each process maps the day's
    graph once (``cached_graph``), however many shards it walks."""
    graph = cached_graph(task.graph_dir)
    candidates, stats = walk_requests(
        graph, task.batch, task.config, task.seed, task.shard.start, task.threads
    )
    table = pa.Table.from_pandas(candidates, preserve_index=False)
    write_parquet(table, Path(task.out_dir) / task.shard.part_name)
    ranks = candidates["visit_rank"].to_numpy(np.int64)
    return WalkShardResult(
        stats=stats,
        per_request=candidates.groupby("request_id", sort=False).size().to_numpy(),
        distinct_pins=np.unique(candidates["pin_id"].to_numpy()),
        rank_visits=np.bincount(ranks, weights=candidates["visit_count"].to_numpy()),
        rank_counts=np.bincount(ranks),
    )


def candidate_parts(folder: Path) -> list[Path]:
    """A partition's candidate part files, in request order."""
    return sorted(Path(folder).glob("part-*.parquet"))


def read_candidates(folder: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """All of a partition's candidates, in request order."""
    parts = [pq.read_table(path, columns=columns) for path in candidate_parts(folder)]
    return pa.concat_tables(parts).to_pandas() if parts else pd.DataFrame(columns=columns)
