"""World mode's stand-ins for what happens after the lightweight ranker: the full ranker picks
k of the M candidates it is sent, the user acts on what is shown, and saves become new edges.

The teacher's noise is a fixed function of (request, pin), so replaying one request with a
different lightweight ranker meets the same full ranker: the counterfactual comparison of
rankers (``world.counterfactual``) differs only in what each ranker sent.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pixie_assets.core import contract
from pixie_assets.core.clients import ClientConfig
from pixie_assets.serving.funnel import (
    choose_for_full_ranker,
    rank_within_requests,
    request_codes,
)
from pixie_assets.serving.pipeline import ScoredCandidates, build_serving_log
from pixie_assets.world.full_ranker import DEFAULT_NOISE, expected_action_value
from pixie_assets.world.truth import WorldTruth

SECONDS_PER_POSITION = 6.0  # users scroll: later positions are seen (and acted on) later


def pair_normal(request_ids: np.ndarray, pin_ids: np.ndarray, seed: int) -> np.ndarray:
    """A standard normal draw per (request, pin) that does not depend on anything else."""
    uniques, codes = np.unique(request_ids, return_inverse=True)
    request_hash = np.array([zlib.crc32(str(r).encode()) for r in uniques], dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (request_hash[codes] << np.uint64(32)) ^ pin_ids.astype(np.uint64)
        z = z + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        u1 = _splitmix(z)
        u2 = _splitmix(z ^ np.uint64(0xD1B54A32D192ED03))
    a = (u1 >> np.uint64(11)).astype(np.float64) / 2.0**53
    b = (u2 >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log1p(-a)) * np.cos(2.0 * np.pi * b)


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass
class FullRankerResult:
    sent: pd.DataFrame  # request_id, user_id, ts, pin_id, full_ranker_score, position (-1 unseen)

    @property
    def shown(self) -> pd.DataFrame:
        return self.sent[self.sent["position"] >= 0]


def run_full_ranker(
    truth: WorldTruth,
    config: ClientConfig,
    sent: pd.DataFrame,
    seed: int,
    noise: float = DEFAULT_NOISE,
) -> FullRankerResult:
    """Score what the lightweight ranker sent and show the top ``config.shown_k`` per request."""
    users, pins = sent["user_id"].to_numpy(), sent["pin_id"].to_numpy()
    value = expected_action_value(truth, users, pins, config.full_ranker_action_values)
    request_ids = sent["request_id"].to_numpy()
    score = np.log(np.maximum(value, 1e-6)) + noise * pair_normal(request_ids, pins, seed)
    rank = rank_within_requests(request_codes(request_ids), score, pins)
    out = sent.assign(full_ranker_score=score, position=np.where(rank < config.shown_k, rank, -1))
    return FullRankerResult(out.reset_index(drop=True))


def expected_actions(truth: WorldTruth, shown: pd.DataFrame) -> np.ndarray:
    """Expected count of each action (``contract.ACTIONS`` order) per shown row."""
    return truth.action_probabilities(
        shown["user_id"].to_numpy(), shown["pin_id"].to_numpy(), shown["position"].to_numpy()
    )


def impressions_table(result: FullRankerResult) -> pa.Table:
    shown = result.shown
    return pa.table(
        {
            "request_id": pa.array(shown["request_id"].to_numpy(), pa.string()),
            "pin_id": pa.array(shown["pin_id"].to_numpy(), pa.int64()),
            "position": pa.array(shown["position"].to_numpy(), pa.int32()),
            "full_ranker_score": pa.array(shown["full_ranker_score"].to_numpy(), pa.float64()),
        },
        schema=contract.IMPRESSIONS,
    )


def simulate_user_actions(
    truth: WorldTruth, result: FullRankerResult, client: str, rng: np.random.Generator
) -> pa.Table:
    """Engagements drawn from the hidden model on what was shown, in the contract schema.
    Times follow the request by a few seconds per position, within the same day."""
    shown = result.shown.sort_values(["request_id", "position"]).reset_index(drop=True)
    action = truth.engagement_model.sample_actions(expected_actions(truth, shown), rng)
    acted = shown[action >= 0]
    taken = action[action >= 0]
    delay_us = (
        (acted["position"].to_numpy() + rng.random(len(acted))) * SECONDS_PER_POSITION * 1e6
    ).astype("timedelta64[us]")
    ts = acted["ts"].to_numpy().astype("datetime64[us]") + delay_us
    day_end = acted["ts"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
    ts = np.minimum(ts, day_end.astype("datetime64[us]") - np.timedelta64(1, "us"))
    return pa.table(
        {
            "user_id": pa.array(acted["user_id"].to_numpy(), pa.int64()),
            "pin_id": pa.array(acted["pin_id"].to_numpy(), pa.int64()),
            "action": pa.array(np.asarray(contract.ACTIONS, dtype=object)[taken], pa.string()),
            "client": pa.array([client] * len(acted), pa.string()),
            "request_id": pa.array(acted["request_id"].to_numpy(), pa.string()),
            "ts": pa.array(ts, contract.TIMESTAMP),
        },
        schema=contract.ENGAGEMENTS,
    )


@dataclass(frozen=True)
class SaveTargets:
    """Where a user's save lands, worked out once per day from the boards (not per batch of
    requests): the user's board of the pin's topic, else their first board."""

    pin_topic: pd.Series  # topic by pin_id
    board_by_topic: pd.DataFrame  # user_id, topic, board_id: one board per (user, topic)
    first_board: pd.Series  # board_id by user_id: each user's first board

    @classmethod
    def build(cls, boards: pd.DataFrame, pins: pd.DataFrame) -> SaveTargets:
        """From the contract's boards (board_id, owner_id, topic) and pins (pin_id, topic)."""
        owned = boards.dropna(subset=["topic"]).drop_duplicates(["owner_id", "topic"])
        first = boards.sort_values("board_id").drop_duplicates("owner_id")
        return cls(
            pin_topic=pins.set_index("pin_id")["topic"],
            board_by_topic=owned.rename(columns={"owner_id": "user_id"})[
                ["user_id", "topic", "board_id"]
            ].reset_index(drop=True),
            first_board=first.set_index("owner_id")["board_id"],
        )


def place_saves(engagements: pa.Table, targets: SaveTargets) -> pa.Table:
    """Saved pins become new pin–board edges (``SaveTargets``); users without boards save
    nowhere (no edge). Rows keep the engagements' order."""
    saved = engagements.filter(pc.equal(engagements["action"], "save")).to_pandas()
    saved["topic"] = saved["pin_id"].map(targets.pin_topic)
    saved = saved.merge(targets.board_by_topic, on=["user_id", "topic"], how="left")
    fallback = saved["user_id"].map(targets.first_board)
    saved["board_id"] = saved["board_id"].fillna(fallback)
    saved = saved.dropna(subset=["board_id"])
    return pa.table(
        {
            "user_id": pa.array(saved["user_id"].to_numpy(), pa.int64()),
            "pin_id": pa.array(saved["pin_id"].to_numpy(), pa.int64()),
            "board_id": pa.array(saved["board_id"].to_numpy().astype(np.int64), pa.int64()),
            "saved_at": pa.array(
                saved["ts"].to_numpy().astype("datetime64[us]"), contract.TIMESTAMP
            ),
        },
        schema=contract.SAVES,
    )


def serve_world_requests(
    truth: WorldTruth,
    config: ClientConfig,
    scored: ScoredCandidates,
    targets: SaveTargets,
    seed: int,
    noise_seed: int,
) -> dict[str, pa.Table]:
    """Requests of one surface in world mode, after Pixie and the lightweight scorer: the four
    landing tables an online service would write (serving_log, impressions, engagements, saves).

    ``seed`` draws the exploration slots and the users' actions, so it belongs to the batch
    (a shard of the day); ``noise_seed`` keys the full ranker's noise per (request, pin), so it
    belongs to the day: a request meets the same full ranker whichever shard it is in."""
    rng = np.random.default_rng(seed)
    sent_mask = choose_for_full_ranker(
        scored.request_codes,
        scored.lightweight_rank,
        config.full_ranker_m,
        config.explore_slots,
        rng,
    )
    sent = scored.candidates.loc[sent_mask, ["request_id", "user_id", "ts", "pin_id"]]
    result = run_full_ranker(truth, config, sent.reset_index(drop=True), noise_seed)
    engagements = simulate_user_actions(truth, result, config.name, rng)
    return {
        "serving_log": build_serving_log(scored, config.name, sent_mask),
        "impressions": impressions_table(result),
        "engagements": engagements,
        "saves": place_saves(engagements, targets),
    }
