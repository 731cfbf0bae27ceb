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
    # Of the M sent to the full ranker, how many are drawn at random from below the cut, so
    # logs keep showing what the full ranker and users think of candidates the scorer ranks low.
    explore_slots: int = 5
    walk_steps: int = 20_000  # N: total walk steps per request
    restart_alpha: float = 0.5
    early_stop_pins: int = 1_000  # n_p
    early_stop_visits: int = 4  # n_v
    # Split the N steps over query pins by weight alone, not by Pixie's weight × s_q (degree
    # scaling): in replay ablations it found as many saved pins in the top 100 and more in the
    # top 1000, on the synthetic world and on MovieLens (README, "What the defaults add").
    degree_scaled_steps: bool = False
    locale_bias: float = 0.0
    max_query_pins: int = 10
    query_lookback_days: int = 28
    query_half_life_days: float = 7.0
    query_action_weights: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_QUERY_ACTION_WEIGHTS)
    )
    # --- training and promotion -----------------------------------------------------------
    strategy: str = "funnel_blended"  # a file of sql/labels/
    # Weight of each action as a training label (the surface's business goal).
    label_action_weights: dict[str, float] = field(
        default_factory=lambda: {"save": 5.0, "click": 1.0, "closeup": 1.0}
    )
    hide_weight: float = 2.0  # weight of a hidden pin as a negative (engagement, blended)
    local_weight: float = 1.0  # extra weight on positives whose pin locale = user locale
    training_window_days: int = 3
    objective: str = "binary:logistic"  # or "rank:pairwise" (grouped by request)
    xgb_params: dict[str, float] = field(
        default_factory=lambda: {
            "max_depth": 6,
            "eta": 0.15,
            "min_child_weight": 5.0,
            "subsample": 0.8,
            "colsample_bytree": 0.9,
            "lambda": 1.0,
        }
    )
    boost_rounds: int = 120
    # Stop adding trees after this many rounds without a better AUC on the held-back day (the
    # newest of the training window); the model keeps the best round (training.fit).
    early_stopping_rounds: int = 20
    # The surface's business goal: the actions it wants more of, and the metric that decides
    # promotion (any model_evaluation metric). "auc_sent/<actions>" is the AUC of those actions
    # over the candidates sent to the full ranker; "dr/<actions>_per_request" (also ips/, snips/,
    # and the *_slot variants) the off-policy estimate of actions per request of the ranker's own
    # top M (training.offpolicy). The default is the one that tracked the simulated truth best
    # (benchmarks/offline_metrics.py, training.metric_validity): the Spearman correlation of the
    # challenger's relative difference to its baseline with the simulated one was 0.97 for
    # auc_sent against 0.89 for DR on 5 demo days, 0.83 against 0.62 on 6 tiny days with the
    # strategy-study arms as extra contenders. auc_sent exaggerates every difference about
    # twofold (DR fivefold), so promotion_margin is a margin on the metric, not on actions.
    primary_actions: tuple[str, ...] = ("save",)
    primary_metric: str = "auc_sent/save"
    # Decides instead when the primary metric is undefined for the challenger or its baseline:
    # an AUC with no action (or no non-action) among the sent candidates, or an off-policy
    # estimate without exploration to support it. None: such a day never promotes.
    fallback_metric: str | None = "dr/save_per_request"
    promotion_margin: float = 0.01  # relative gain over the champion needed to promote
    # What the surface's full ranker optimizes: value of each action it predicts.
    full_ranker_action_values: dict[str, float] = field(
        default_factory=lambda: {"save": 1.0, "click": 0.3, "closeup": 0.3, "hide": -1.0}
    )

    @property
    def promotion_metrics(self) -> tuple[str, ...]:
        """The metrics promotion may decide on, in order: the primary, then its fallback."""
        fallback = (
            () if self.fallback_metric in (None, self.primary_metric) else (self.fallback_metric,)
        )
        return (self.primary_metric, *fallback)


CLIENTS: dict[str, ClientConfig] = {
    "homefeed": ClientConfig("homefeed", requests_per_1k_users=200, query="recent_engagements"),
    "related_pins": ClientConfig(
        "related_pins",
        requests_per_1k_users=150,
        query="viewed_pin",
        walk_steps=10_000,
        label_action_weights={"save": 1.0, "click": 3.0, "closeup": 3.0},
        primary_actions=("click", "closeup"),
        primary_metric="auc_sent/click_closeup",
        fallback_metric="dr/click_closeup_per_request",
        full_ranker_action_values={"save": 0.5, "click": 1.0, "closeup": 1.0, "hide": -1.0},
    ),
    "notifications": ClientConfig(
        "notifications",
        # 3 impressions per request make thin training data: more traffic and a longer window
        requests_per_1k_users=200,
        training_window_days=5,
        query="recent_engagements",
        full_ranker_m=20,
        shown_k=3,
        explore_slots=2,
        label_action_weights={"save": 1.0, "click": 5.0, "closeup": 1.0},
        primary_actions=("click",),
        primary_metric="auc_sent/click",
        fallback_metric="dr/click_per_request",
        full_ranker_action_values={"save": 0.3, "click": 1.0, "closeup": 0.3, "hide": -1.0},
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
