"""Per-client settings: one place that says how each Pixie client surface is served and trained.

Each surface has its own traffic, its own query (a user's recent engagements, or the pin being
viewed), its own funnel sizes (K candidates from Pixie, M sent to the full ranker, k shown) and,
from the ranking stages on, its own label strategy and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# How much a recent engagement says about what to recommend next (hides say "not this").
DEFAULT_QUERY_ACTION_WEIGHTS = {"save": 1.0, "closeup": 0.6, "click": 0.5}


@dataclass(frozen=True)
class ClientConfig:
    name: str
    requests_per_1k_users: float  # daily requests per 1,000 world users
    query: str  # "recent_engagements" or "viewed_pin"
    candidates_k: int = 200  # K: candidates Pixie returns and the serving stage logs
    full_ranker_m: int = 50  # M: sent on to the full ranker
    shown_k: int = 10  # k: impressions shown to the user
    walk_steps: int = 20_000  # N: total walk steps per request
    restart_alpha: float = 0.5
    early_stop_pins: int = 1_000  # n_p
    early_stop_visits: int = 4  # n_v
    locale_bias: float = 0.0
    max_query_pins: int = 10
    query_lookback_days: int = 28
    query_half_life_days: float = 7.0
    query_action_weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_QUERY_ACTION_WEIGHTS)
    )


CLIENTS: dict[str, ClientConfig] = {
    "homefeed": ClientConfig("homefeed", requests_per_1k_users=200, query="recent_engagements"),
    "related_pins": ClientConfig(
        "related_pins", requests_per_1k_users=150, query="viewed_pin", walk_steps=10_000
    ),
    "notifications": ClientConfig(
        "notifications",
        requests_per_1k_users=100,
        query="recent_engagements",
        full_ranker_m=20,
        shown_k=3,
    ),
}


class UnknownClientError(KeyError):
    pass


def client_config(name: str) -> ClientConfig:
    try:
        return CLIENTS[name]
    except KeyError:
        raise UnknownClientError(
            f"client {name!r} is not configured; configured clients: {', '.join(CLIENTS)}"
        ) from None
