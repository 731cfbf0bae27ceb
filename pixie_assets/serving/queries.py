"""Pixie's input: the pins a request starts its walks from, and how much each one counts.

A user's recent engagements are weighted by action type (a save says more than a click; a hide is
not a reason to recommend similar pins) and by recency (exponential decay with a half-life), and
the strongest few become the query pins. Related Pins starts from the one pin being viewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig

QUERY_COLUMNS = ["request_id", "query_pin_ids", "query_weights"]


@dataclass(frozen=True)
class QueryRule:
    """How a user's history becomes query pins.

    ``action_weights`` None: every engaged pin counts 1 and the ``max_pins`` most recent are
    kept (the plain walk's query); otherwise a pin's weight is Σ action weight × 2^(−age /
    half-life) over its engagements and the strongest are kept, ties to the most recent. Hidden
    pins are never query pins.

    Age is counted in the user's own *active days* (days with at least one engagement, 0 = their
    last one), not calendar days: only weights within a request matter to the walk, and a week
    of a daily user is seven active days either way, but a user who rates in bursts months apart
    (or a log with month-granular timestamps) would otherwise see everything before their last
    session decay to nothing. ``recency="calendar"`` counts calendar days back from the user's
    last engagement instead.
    """

    max_pins: int = 10
    half_life_days: float | None = 7.0
    action_weights: dict[str, float] | None = None
    recency: str = "active_days"

    def __post_init__(self) -> None:
        if self.recency not in ("active_days", "calendar"):
            raise ValueError(f"recency is 'active_days' or 'calendar', not {self.recency!r}")

    @classmethod
    def of(cls, config: ClientConfig) -> QueryRule:
        return cls(config.max_query_pins, config.query_half_life_days, config.query_action_weights)


def _age_days(eng: pd.DataFrame, recency: str) -> np.ndarray:
    """Each engagement's age in days, 0 on the user's last (active) day."""
    if recency == "calendar":
        last = eng.groupby("user_id")["ts"].transform("max")
        return (last - eng["ts"]).dt.total_seconds().to_numpy() / 86_400
    day = eng["ts"].dt.floor("D")
    # dense rank of the day among the user's active days, newest = 0
    return day.groupby(eng["user_id"]).rank(method="dense", ascending=False).to_numpy() - 1.0


def query_pins(engagements: pd.DataFrame, rule: QueryRule) -> pd.DataFrame:
    """Per user, the query pins (user_id, pin_id, weight, last_ts) under ``rule``, strongest
    first, from engagements (user_id, pin_id, action, ts) that the caller has already limited
    to the past."""
    eng = engagements[["user_id", "pin_id", "action", "ts"]]
    hidden = eng.loc[eng["action"] == "hide", ["user_id", "pin_id"]].drop_duplicates()
    if rule.action_weights is None:
        eng = eng[eng["action"] != "hide"].assign(weight=1.0)
    else:
        eng = eng.assign(weight=eng["action"].map(rule.action_weights)).dropna(subset=["weight"])
        if rule.half_life_days is not None and len(eng):
            decay = np.exp2(-_age_days(eng, rule.recency) / rule.half_life_days)
            eng = eng.assign(weight=eng["weight"].to_numpy() * decay)
    per_pin = eng.groupby(["user_id", "pin_id"], as_index=False, sort=False).agg(
        weight=("weight", "sum" if rule.action_weights is not None else "max"),
        last_ts=("ts", "max"),
    )
    if len(hidden):
        per_pin = per_pin.merge(hidden, how="left", on=["user_id", "pin_id"], indicator=True)
        per_pin = per_pin[per_pin["_merge"] == "left_only"].drop(columns="_merge")
    order = ["user_id", "weight", "last_ts", "pin_id"]
    per_pin = per_pin.sort_values(order, ascending=[True, False, False, True], kind="stable")
    return per_pin.groupby("user_id", sort=False).head(rule.max_pins).reset_index(drop=True)


def engagement_weights(
    engagements: pd.DataFrame, config: ClientConfig, day: date, max_pins: int | None = None
) -> pd.DataFrame:
    """Per (user_id, pin_id), the summed action × recency weight of engagements before ``day``,
    keeping each user's ``max_pins`` strongest pins (all when None). Pins the user hid are
    dropped: a hide outweighs any earlier click on the same pin."""
    eng = engagements[["user_id", "pin_id", "action", "ts"]]
    hidden = eng.loc[eng["action"] == "hide", ["user_id", "pin_id"]].drop_duplicates()
    action_weight = eng["action"].map(config.query_action_weights)
    eng = eng.assign(action_weight=action_weight).dropna(subset=["action_weight"])
    age_days = (pd.Timestamp(datetime(day.year, day.month, day.day)) - eng["ts"]).dt.total_seconds()
    decay = np.exp2(-age_days.to_numpy() / 86_400 / config.query_half_life_days)
    eng = eng.assign(weight=eng["action_weight"].to_numpy() * decay)
    weights = eng.groupby(["user_id", "pin_id"], as_index=False, sort=True)["weight"].sum()
    if len(hidden):
        weights = weights.merge(hidden, how="left", on=["user_id", "pin_id"], indicator=True)
        weights = weights[weights["_merge"] == "left_only"].drop(columns="_merge")
    weights = weights.sort_values(["user_id", "weight", "pin_id"], ascending=[True, False, True])
    if max_pins is not None:
        weights = weights.groupby("user_id", sort=False).head(max_pins)
    return weights.reset_index(drop=True)


def recent_engagement_queries(
    requests: pd.DataFrame, weights: pd.DataFrame, config: ClientConfig
) -> pd.DataFrame:
    """Each request's query: the user's strongest recent pins with their weights."""
    top = weights.groupby("user_id", sort=False).head(config.max_query_pins)
    per_user = top.groupby("user_id", sort=False).agg(
        query_pin_ids=("pin_id", list), query_weights=("weight", list)
    )
    queries = requests[["request_id", "user_id"]].join(per_user, on="user_id")
    return _fill_empty(queries)[QUERY_COLUMNS]


def viewed_pin_queries(requests: pd.DataFrame) -> pd.DataFrame:
    """Related Pins: the pin being viewed is the only query pin, with weight 1."""
    queries = requests[["request_id"]].copy()
    queries["query_pin_ids"] = [[int(p)] for p in requests["viewed_pin_id"]]
    queries["query_weights"] = [[1.0]] * len(requests)
    return queries


def _fill_empty(queries: pd.DataFrame) -> pd.DataFrame:
    missing = queries["query_pin_ids"].isna()
    if missing.any():
        queries.loc[missing, "query_pin_ids"] = pd.Series([[]] * int(missing.sum())).values
        queries.loc[missing, "query_weights"] = pd.Series([[]] * int(missing.sum())).values
    return queries
