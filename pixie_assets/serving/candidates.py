"""Candidate generation for a batch of requests: queries in, top-K Pixie candidates out."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig
from pixie_assets.graph import PinBoardGraph, WalkParams, WalkRequest, pixie_batch

CANDIDATE_COLUMNS = [
    "request_id", "user_id", "ts", "pin_id", "visit_count", "visit_rank", "query_hits",
    "pin_degree",
]  # fmt: skip


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


def generate_candidates(
    graph: PinBoardGraph,
    requests: pd.DataFrame,
    queries: pd.DataFrame,
    config: ClientConfig,
    seed: int,
    user_locales: pd.Series | None = None,
) -> tuple[pd.DataFrame, CandidateStats]:
    """Top-K candidates per request with their graph features (``CANDIDATE_COLUMNS``).

    ``requests`` has request_id, user_id, ts; ``queries`` has request_id, query_pin_ids,
    query_weights; ``user_locales`` maps user_id to locale for the optional locale bias."""
    batch = requests[["request_id", "user_id", "ts"]].merge(queries, on="request_id", how="left")
    locales = [None] * len(batch)
    if user_locales is not None and config.locale_bias > 0:
        locales = batch["user_id"].map(user_locales).tolist()
    walk_requests = [
        WalkRequest(pin_ids=np.asarray(pins, np.int64), weights=weights, locale=locale)
        for pins, weights, locale in zip(
            batch["query_pin_ids"], batch["query_weights"], locales, strict=True
        )
    ]
    started = time.perf_counter()
    found = pixie_batch(graph, walk_requests, walk_params(config, seed))
    seconds = time.perf_counter() - started
    keys = batch[["request_id", "user_id", "ts"]].reset_index(drop=True)
    candidates = keys.iloc[found["request_idx"].to_numpy()].reset_index(drop=True)
    for column in ("pin_id", "visit_count", "visit_rank", "query_hits", "pin_degree"):
        candidates[column] = found[column].to_numpy()
    per_request = np.bincount(found["request_idx"].to_numpy(), minlength=len(batch))
    stats = CandidateStats(
        requests=len(batch),
        requests_without_candidates=int((per_request == 0).sum()),
        candidates=len(candidates),
        mean_candidates_per_request=float(per_request.mean()) if len(batch) else 0.0,
        walk_steps=int(found.attrs.get("total_steps", 0)),
        walk_seconds=seconds,
    )
    return candidates[CANDIDATE_COLUMNS], stats
