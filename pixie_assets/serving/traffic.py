"""Who shows up on a surface on a given day: the day's requests of one client.

Users visit in proportion to an activity weight: the world's hidden activity in world mode
(``WorldTruth.hidden_activity``), the observed strength of recent engagement otherwise
(``observed_activity``). Only users with some recent engagement can be served (Pixie needs query
pins). On Related Pins the request is a closeup of one pin, drawn from the pins the user recently
engaged with in proportion to their weight.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.seeds import partition_seed

REQUEST_COLUMNS = ["request_id", "ts", "client", "user_id", "viewed_pin_id"]


def observed_activity(engagement_weights: pd.DataFrame) -> pd.Series:
    """Without a world: how strongly each user engaged recently (the query weights' sum)."""
    return engagement_weights.groupby("user_id")["weight"].sum()


def sample_requests(
    activity: pd.Series,
    population: int,
    config: ClientConfig,
    day: date,
    world_seed: int,
    engagement_weights: pd.DataFrame,
) -> pd.DataFrame:
    """The day's requests of one client: request_id, ts, client, user_id, viewed_pin_id.

    ``activity`` weighs users (indexed by user_id); ``population`` (all users) sizes the
    traffic with the client's requests per 1,000 users."""
    rng = np.random.default_rng(partition_seed(world_seed, day, config.name, "requests"))
    eligible = np.unique(engagement_weights["user_id"].to_numpy())
    n_requests = min(len(eligible), round(config.requests_per_1k_users * population / 1_000))
    if n_requests == 0:
        return pd.DataFrame(columns=REQUEST_COLUMNS)
    activity = activity.reindex(eligible).fillna(0.0).to_numpy(dtype=np.float64)
    # Weighted sampling without replacement (Efraimidis–Spirakis keys), O(n).
    keys = np.log(rng.random(len(eligible))) / np.maximum(activity, 1e-9)
    chosen = np.sort(eligible[np.argpartition(-keys, n_requests - 1)[:n_requests]])
    start = datetime(day.year, day.month, day.day)
    seconds = np.sort(rng.integers(0, 86_400 * 1_000_000, size=n_requests))
    ts = pd.Timestamp(start) + pd.to_timedelta(seconds, unit="us")
    users = rng.permutation(chosen)
    requests = pd.DataFrame(
        {
            "request_id": [f"{config.name}:{day.isoformat()}:{i:06d}" for i in range(n_requests)],
            "ts": ts.astype("datetime64[us]"),
            "client": config.name,
            "user_id": users.astype(np.int64),
        }
    )
    requests["viewed_pin_id"] = (
        _viewed_pins(rng, users, engagement_weights) if config.query == "viewed_pin" else -1
    )
    return requests[REQUEST_COLUMNS]


def _viewed_pins(rng: np.random.Generator, users: np.ndarray, weights: pd.DataFrame) -> np.ndarray:
    """One engaged pin per user, in proportion to its engagement weight."""
    by_user = weights.sort_values(["user_id", "pin_id"])
    user_ids = by_user["user_id"].to_numpy()
    cumulative = np.concatenate([[0.0], np.cumsum(by_user["weight"].to_numpy())])
    lo = np.searchsorted(user_ids, users, side="left")
    hi = np.searchsorted(user_ids, users, side="right")
    target = cumulative[lo] + rng.random(len(users)) * (cumulative[hi] - cumulative[lo])
    position = np.clip(np.searchsorted(cumulative, target, side="right") - 1, lo, hi - 1)
    return by_user["pin_id"].to_numpy()[position]
