"""One recommendation request, end to end: query pins, Pixie's walks, the lightweight score, the
choice of what the full ranker sees, and the serving-stage log of every candidate.

The functions are the batch path's (``walk_request`` is ``walk_requests`` for one request,
the feature SQL and scorer are those ``serving_logs`` runs, on several requests' candidates at
once as it does, and ``build_serving_log`` is its own), so what the service logs
is what the batch path would have computed for the same request, graph and model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa

from pixie_assets.core.seeds import partition_seed
from pixie_assets.online.state import ServingState
from pixie_assets.serving.candidates import WalkRequestRow, walk_request
from pixie_assets.serving.funnel import choose_for_full_ranker
from pixie_assets.serving.pipeline import build_serving_log


class BadRequest(ValueError):
    """The request cannot be served as asked; the message says why (a 4xx, never a crash)."""


@dataclass(frozen=True)
class Query:
    client: str
    user_id: int
    request_id: str
    ts: datetime
    query_pins: tuple[int, ...] | None = None  # None: the user's recent engagements
    query_weights: tuple[float, ...] | None = None
    k: int | None = None  # candidates returned; default the client's full_ranker_m


@dataclass(frozen=True)
class Served:
    request_id: str
    model_version: str
    day: str
    walk_steps: int
    candidates: int
    items: list[dict]  # what the full ranker gets, best first
    serving_log: pa.Table  # every candidate, with its features and whether it was sent


def request_seed(state: ServingState, client: str, request_id: str) -> int:
    """A request's walk and exploration seed: the day's and client's, mixed with its id, so
    one request walks the same whenever and wherever it is served."""
    base = partition_seed(state.settings.world_seed, state.day, client, "online")
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return (base ^ int.from_bytes(digest, "little")) % 2**63


def _query_pins(state: ServingState, query: Query) -> tuple[np.ndarray, np.ndarray]:
    client = state.client(query.client)
    if query.query_pins is not None:
        pins = np.asarray(query.query_pins, dtype=np.int64)
        weights = (
            np.ones(len(pins))
            if query.query_weights is None
            else np.asarray(query.query_weights, dtype=np.float64)
        )
        if len(pins) == 0:
            raise BadRequest("query_pins is empty: give at least one pin, or leave it out")
        if len(weights) != len(pins):
            raise BadRequest(f"{len(pins)} query pins but {len(weights)} weights")
        if (weights <= 0).any() or not np.isfinite(weights).all():
            raise BadRequest("every query pin weight must be a positive finite number")
        return pins, weights
    if client.config.query == "viewed_pin":
        raise BadRequest(f"{query.client} starts from the pin being viewed: give it as query_pins")
    found = client.queries.of(query.user_id)
    if found is None:
        raise BadRequest(
            f"user {query.user_id} has no engagements in the {client.config.query_lookback_days} "
            f"days before {state.day} and no query_pins were given"
        )
    return found


def recommend(state: ServingState, query: Query) -> Served:
    """Serve one request on ``state``; raises ``BadRequest`` for what the caller got wrong."""
    if query.client not in state.clients:
        raise BadRequest(
            f"unknown client {query.client!r}; served: {', '.join(sorted(state.clients))}"
        )
    client = state.client(query.client)
    pins, weights = _query_pins(state, query)
    request = WalkRequestRow(
        query.request_id, query.user_id, query.ts, pins, weights,
        state.locales.get(query.user_id),
    )  # fmt: skip
    seed = request_seed(state, query.client, query.request_id)
    candidates, steps = walk_request(state.graph, request, client.config, seed)
    scored = client.scoring.score(candidates)  # with the requests waiting beside it
    m = client.config.full_ranker_m if query.k is None else query.k
    sent = choose_for_full_ranker(
        scored.request_codes,
        scored.lightweight_rank,
        m,
        min(client.config.explore_slots, m),
        np.random.default_rng(seed),
    )
    order = np.lexsort((scored.lightweight_rank, ~sent))[: int(sent.sum())]
    explore = scored.lightweight_rank >= m - min(client.config.explore_slots, m)
    pin_ids = candidates["pin_id"].to_numpy()
    visits = candidates["visit_count"].to_numpy()
    ranks = candidates["visit_rank"].to_numpy()
    items = [
        {
            "pin_id": int(pin_ids[i]),
            "visit_count": float(visits[i]),
            "visit_rank": int(ranks[i]),
            "lightweight_score": float(scored.score[i]),
            "exploration": bool(explore[i]),
        }
        for i in order
    ]
    return Served(
        request_id=query.request_id,
        model_version=scored.version,
        day=state.day.isoformat(),
        walk_steps=steps,
        candidates=len(candidates),
        items=items,
        serving_log=build_serving_log(scored, query.client, sent),
    )
