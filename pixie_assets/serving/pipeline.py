"""The serving stage for a batch of requests: featurize, score, choose what the full ranker sees,
and log every candidate with its features — seen or not (the article's serving-stage logging)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.core import contract
from pixie_assets.serving.featurize import FeatureContext
from pixie_assets.serving.funnel import rank_within_requests, request_codes
from pixie_assets.serving.scoring import Scorer


@dataclass
class ScoredCandidates:
    candidates: pd.DataFrame  # request_id, user_id, ts, pin_id, graph features
    features: pa.Table  # the scorer's feature columns, row-aligned with candidates
    score: np.ndarray  # lightweight score
    lightweight_rank: np.ndarray  # 0-based rank within the request
    request_codes: np.ndarray  # dense integer code of each row's request
    version: str


def score_candidates(
    candidates: pd.DataFrame, context: FeatureContext, scorer: Scorer
) -> ScoredCandidates:
    features = context.featurize(candidates)
    score = scorer.score(features)
    codes = request_codes(candidates["request_id"].to_numpy())
    rank = rank_within_requests(codes, score, candidates["visit_rank"].to_numpy())
    return ScoredCandidates(candidates, features, score, rank, codes, scorer.version)


def build_serving_log(scored: ScoredCandidates, client: str, sent: np.ndarray) -> pa.Table:
    """All candidates in the contract's serving_log schema; ``sent`` marks those that went on
    to the full ranker."""
    c = scored.candidates
    columns = {
        "request_id": c["request_id"].to_numpy(),
        "ts": c["ts"].to_numpy().astype("datetime64[us]"),
        "client": np.full(len(c), client, dtype=object),
        "user_id": c["user_id"].to_numpy(),
        "pin_id": c["pin_id"].to_numpy(),
        "lightweight_score": scored.score,
        "model_version": np.full(len(c), scored.version, dtype=object),
        "sent_to_full_ranker": sent,
    }
    for name in contract.SERVING_LOG.names:
        if name not in columns:
            columns[name] = scored.features[name]
    arrays = [
        pa.array(columns[f.name], type=f.type)
        if not isinstance(columns[f.name], pa.ChunkedArray)
        else columns[f.name].cast(f.type)
        for f in contract.SERVING_LOG
    ]
    return pa.Table.from_arrays(arrays, schema=contract.SERVING_LOG)
