"""Pixie's input: the pins a request starts its walks from, and how much each one counts.

A user's recent engagements are weighted by action type (a save says more than a click; a hide is
not a reason to recommend similar pins) and by recency (exponential decay with a half-life), and
the strongest few become the query pins. Related Pins starts from the one pin being viewed.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from pixie_assets.clients import ClientConfig

QUERY_COLUMNS = ["request_id", "query_pin_ids", "query_weights"]


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
