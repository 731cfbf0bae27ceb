"""What the service serves with, loaded once and never changed: the day's graph, and per client
its scorer (``@champion``, or visit count while there is none), the feature context of the day
and the users' query pins.

A new day's graph or a new ``@champion`` makes a new ``ServingState`` beside the old one (the
clients whose model did not change keep theirs); requests hold the state they started with, so a
swap never changes a request halfway. Everything is built by the batch path's own functions (the
engagement weights of ``walk_candidates``, the feature context of ``serving_logs``), which is what
makes the service's candidates, features and scores those of the batch path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig, client_config
from pixie_assets.core.settings import Settings
from pixie_assets.graph import PinBoardGraph, load_graph
from pixie_assets.landing.sources import day_feature_context, read_table
from pixie_assets.online.batching import ScoringQueue
from pixie_assets.online.features import OnlineFeatures
from pixie_assets.serving.featurize import spec_digest
from pixie_assets.serving.queries import engagement_weights
from pixie_assets.serving.scoring import Scorer, VisitCountScorer
from pixie_assets.training.registry import aliased_version, load_scorer
from pixie_assets.training.tracking import CHAMPION


class ServingStateError(RuntimeError):
    """The service cannot load what it would serve with; the message says what is missing."""


@dataclass(frozen=True)
class UserQueries:
    """Each user's query pins as the batch path picks them (``engagement_weights`` of the
    client, strongest ``max_query_pins``), indexed for one lookup per request."""

    pins: np.ndarray
    weights: np.ndarray
    starts: dict[int, tuple[int, int]]

    @classmethod
    def build(cls, weights: pd.DataFrame, max_pins: int) -> UserQueries:
        top = weights.groupby("user_id", sort=False).head(max_pins).reset_index(drop=True)
        users = top["user_id"].to_numpy()
        bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True]) if len(users) else []
        starts = {
            int(users[a]): (int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=False)
        }
        return cls(top["pin_id"].to_numpy(np.int64), top["weight"].to_numpy(np.float64), starts)

    def of(self, user_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        span = self.starts.get(int(user_id))
        if span is None:
            return None
        return self.pins[span[0] : span[1]], self.weights[span[0] : span[1]]

    def __len__(self) -> int:
        return len(self.starts)


@dataclass(frozen=True)
class ClientState:
    config: ClientConfig
    scorer: Scorer
    features: OnlineFeatures  # shared by the clients whose models share a feature spec
    queries: UserQueries
    scoring: ScoringQueue

    @property
    def model_version(self) -> str:
        return self.scorer.version


@dataclass(frozen=True)
class ServingState:
    """One day's graph and every client's model: immutable, swapped whole."""

    settings: Settings
    day: date
    graph: PinBoardGraph
    locales: dict[int, str]
    clients: dict[str, ClientState]
    champions: dict[str, str | None] = field(default_factory=dict)  # registry version or None

    def client(self, name: str) -> ClientState:
        return self.clients[name]


def graph_days(settings: Settings) -> list[date]:
    """The days whose graph is built (complete folders ``graph/day=D``), oldest first."""
    found = []
    for folder in settings.graph_dir.glob("day=*"):
        try:
            found.append(date.fromisoformat(folder.name.removeprefix("day=")))
        except ValueError:
            continue
    return sorted(found)


def newest_graph_day(settings: Settings) -> date:
    days = graph_days(settings)
    if not days:
        raise ServingStateError(
            f"no graph under {settings.graph_dir}: materialize pin_board_graph for a day first "
            "(make demo, or the graph job)"
        )
    return days[-1]


def _user_queries(settings: Settings, day: date, config: ClientConfig) -> UserQueries:
    """The query pins of every user as ``walk_candidates`` weighs them for ``day``."""
    since = day - timedelta(days=config.query_lookback_days)
    engagements = read_table(settings, "engagements", before=day, since=since).to_pandas()
    return UserQueries.build(engagement_weights(engagements, config, day), config.max_query_pins)


def champions_of(settings: Settings, clients: list[str]) -> dict[str, str | None]:
    """Each client's ``@champion`` version in the registry (None: visit count serves)."""
    return {name: aliased_version(settings, name, CHAMPION) for name in clients}


def load_state(
    settings: Settings,
    day: date,
    champions: dict[str, str | None],
    previous: ServingState | None = None,
    log: Callable[[str], None] = lambda message: None,
    walk_steps: int | None = None,
) -> ServingState:
    """The state to serve ``day`` with each client's ``champions`` version (``champions_of``).
    Clients of ``previous`` for the same day whose champion has not moved are reused as they
    are, and so are its features for a model of the same feature spec; everything else is
    loaded.
    ``walk_steps`` replaces the clients' step budget (the paper's 100k-step queries)."""
    same_day = previous is not None and previous.day == day
    graph = previous.graph if same_day else load_graph(settings.graph_day_dir(day.isoformat()))
    if same_day:
        locales = previous.locales
    else:
        users = read_table(settings, "users", columns=["user_id", "locale"]).to_pandas()
        locales = dict(zip(users["user_id"].tolist(), users["locale"].tolist(), strict=True))
    states: dict[str, ClientState] = {}
    # a moved champion whose spec another client of the day already serves shares its features
    features: dict[str, OnlineFeatures] = (
        {spec_digest(c.scorer.feature_spec): c.features for c in previous.clients.values()}
        if same_day
        else {}
    )
    for name, champion in champions.items():
        if same_day and previous.champions.get(name) == champion and name in previous.clients:
            states[name] = previous.clients[name]
            continue
        config = client_config(name)
        if walk_steps is not None:
            config = replace(config, walk_steps=walk_steps)
        scorer = VisitCountScorer() if champion is None else load_scorer(settings, name, champion)
        booster = getattr(scorer, "booster", None)
        if booster is not None:  # requests run in parallel; each scores its ~K rows alone
            booster.set_param({"nthread": 1})
        digest = spec_digest(scorer.feature_spec)
        if digest not in features:
            context = day_feature_context(settings, day, scorer.feature_spec, 1)
            features[digest] = OnlineFeatures(context, day, log)
        queries = (
            previous.clients[name].queries
            if same_day and name in previous.clients
            else _user_queries(settings, day, config)
        )
        scoring = ScoringQueue(features[digest].connect, scorer, name=f"scoring-{name}")
        states[name] = ClientState(config, scorer, features[digest], queries, scoring)
        log(f"{name}: serving {day} with {scorer.version} ({len(queries):,} users with queries)")
    return replace(
        previous or ServingState(settings, day, graph, locales, {}),
        day=day,
        graph=graph,
        locales=locales,
        clients=states,
        champions=dict(champions),
    )


def retire(old: ServingState, new: ServingState) -> list[Callable[[], None]]:
    """What to close of ``old`` once no request holds it: the scoring threads of the clients
    ``new`` does not reuse, then the features only ``old`` used."""
    kept_clients = {id(c) for c in new.clients.values()}
    kept_features = {id(c.features) for c in new.clients.values()}
    closes: list[Callable[[], None]] = []
    features: dict[int, OnlineFeatures] = {}
    for client in old.clients.values():
        if id(client) in kept_clients:
            continue
        closes.append(client.scoring.close)
        if id(client.features) not in kept_features:
            features[id(client.features)] = client.features
    return closes + [shared.close for shared in features.values()]


def close_state(state: ServingState) -> None:
    """Close everything ``state`` holds (the service is stopping)."""
    features = {id(c.features): c.features for c in state.clients.values()}
    for client in state.clients.values():
        client.scoring.close()
    for shared in features.values():
        shared.close()
