"""A replay end to end: train the lightweight model on the window before the test window, then
rank the test window's candidates with visit count, that model and global popularity.

Both windows are built the same way (``history``): the graph holds the saves before the window,
requests are the users with earlier engagements, candidates are their Pixie top K without the
pins they engaged with, and features are the project's FeatureSpec over a FeatureContext of the
window's first day. Nothing of a window is visible to its own construction except its labels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.clients import ClientConfig, client_config
from pixie_assets.graph import PinBoardGraph, PruneConfig, build_pin_board_graph
from pixie_assets.replay.candidates import candidate_batches, window_seed
from pixie_assets.replay.history import WindowHistory, build_window_history
from pixie_assets.replay.model import ExampleSampler, negative_rate
from pixie_assets.replay.ranking import (
    metric_names,
    popularity_order,
    popularity_ranks,
    rank_metrics,
)
from pixie_assets.replay.window import ReplayWindow
from pixie_assets.serving.candidates import CANDIDATE_COLUMNS
from pixie_assets.serving.featurize import CONTEXT_LOOKBACK_DAYS, FeatureContext, FeatureSpec
from pixie_assets.serving.scoring import Scorer, repo_feature_spec
from pixie_assets.training.fit import TrainedModel, TrainingDataError, train_lightweight_model
from pixie_assets.training.metrics import ranks_within_groups

RANKERS = ("popularity", "visit_count", "lightweight")

Reader = Callable[[str, date | None], pa.Table]


@dataclass(frozen=True)
class ReplayParams:
    """How a replay is run. The client supplies the query weights, walk settings and XGBoost
    parameters (homefeed: a user's recent engagements as the query); ``candidates_k`` is K, the
    candidates kept per request (hit@1000 needs K ≥ 1000)."""

    client: str = "homefeed"
    candidates_k: int = 1000
    hit_ks: tuple[int, ...] = (10, 100, 1000)
    cutoff: int = 20
    batch_requests: int = 2048
    max_training_rows: int = 500_000
    seed: int = 0

    def config(self) -> ClientConfig:
        return replace(client_config(self.client), candidates_k=self.candidates_k)


@dataclass(frozen=True)
class ReplaySources:
    """The five input tables, with every event before the end of the test window."""

    users: pa.Table
    pins: pa.Table
    boards: pa.Table
    saves: pd.DataFrame
    engagements: pd.DataFrame

    @classmethod
    def load(cls, read: Reader, until: date) -> ReplaySources:
        """``read(table, before)`` returns a contract table's rows (events before ``before``);
        ``until`` is the first day after the test window."""
        return cls(
            users=read("users", None),
            pins=read("pins", None),
            boards=read("boards", None),
            saves=read("saves", until).to_pandas(),
            engagements=read("engagements", until).to_pandas(),
        )


@dataclass
class WindowInputs:
    """Everything one window's candidates are built from."""

    window: ReplayWindow
    graph: PinBoardGraph
    history: WindowHistory
    graph_report: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


def prepare_window(
    sources: ReplaySources, window: ReplayWindow, config: ClientConfig
) -> WindowInputs:
    """The window's graph (saves before its first day) and its requests/positives."""
    started = time.perf_counter()
    graph, report = build_pin_board_graph(
        sources.saves,
        sources.pins.select(["pin_id", "locale", "topic"]),
        sources.boards.select(["board_id"]),
        cutoff=np.datetime64(window.start.isoformat()),
        config=PruneConfig(),
    )
    graph_seconds = time.perf_counter() - started
    started = time.perf_counter()
    history = build_window_history(window, sources.saves, sources.engagements, config)
    return WindowInputs(
        window,
        graph,
        history,
        report.as_dict(),
        {"graph": graph_seconds, "history": time.perf_counter() - started},
    )


def feature_context(
    spec: FeatureSpec, sources: ReplaySources, window: ReplayWindow
) -> FeatureContext:
    """The serving feature context as of the window's first day (the candidates' ``ts``)."""
    since = pd.Timestamp(window.start - timedelta(days=CONTEXT_LOOKBACK_DAYS))
    start = pd.Timestamp(window.start)
    saves = sources.saves
    engagements = sources.engagements
    recent_saves = saves[(saves["saved_at"] >= since) & (saves["saved_at"] < start)]
    recent_engagements = engagements[(engagements["ts"] >= since) & (engagements["ts"] < start)]
    return FeatureContext(
        spec,
        window.start,
        users=sources.users,
        pins=sources.pins,
        recent_saves=pa.Table.from_pandas(
            recent_saves[["pin_id", "saved_at"]], preserve_index=False
        ),
        recent_engagements=pa.Table.from_pandas(
            recent_engagements[["user_id", "pin_id", "action", "ts"]], preserve_index=False
        ),
    )


@dataclass
class TrainingResult:
    trained: TrainedModel
    spec: FeatureSpec
    report: dict[str, object]


def train_replay_model(
    sources: ReplaySources,
    test_window: ReplayWindow,
    params: ReplayParams,
    spec: FeatureSpec | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> TrainingResult:
    """Fit the lightweight model on the window of the same length just before ``test_window``.
    Raises ``training.fit.TrainingDataError`` when that window has no positive (or nothing
    but positives) among its candidates."""
    spec = spec or repo_feature_spec()
    config = params.config()
    window = test_window.previous()
    inputs = prepare_window(sources, window, config)
    history = inputs.history
    log(f"training window {window}: {history.counts}")
    rate = negative_rate(
        history.counts["requests_with_query"] * params.candidates_k, params.max_training_rows
    )
    sampler = ExampleSampler(rate, window_seed(params.seed, history, "negatives"))
    positives = history.positive_set
    started = time.perf_counter()
    with feature_context(spec, sources, window) as context:
        for batch in candidate_batches(
            inputs.graph, history, config, params.candidates_k, params.seed, params.batch_requests
        ):
            features = context.featurize(batch[CANDIDATE_COLUMNS]).to_pandas()
            sampler.add(batch, features, positives.contains(batch["key"].to_numpy()))
    candidate_seconds = time.perf_counter() - started
    examples = sampler.examples(spec.feature_names)
    log(f"{len(examples):,} examples ({sampler.positives:,} positives) of {sampler.candidates:,}")
    started = time.perf_counter()
    try:
        trained = train_lightweight_model(
            examples,
            spec.feature_names,
            config.objective,
            config.xgb_params,
            config.boost_rounds,
            seed=params.seed,
        )
    except TrainingDataError as error:
        raise TrainingDataError(
            f"training window {window} (the {window.days} day(s) before the test window): "
            f"{error}; {sampler.candidates:,} candidates, {sampler.positives:,} of them saved; "
            f"window counts {history.counts}"
        ) from error
    report: dict[str, object] = {
        "test_window": str(test_window),
        "train_window": str(window),
        "client": params.client,
        "candidates_k": params.candidates_k,
        "seed": params.seed,
        "candidates": sampler.candidates,
        "candidate_positives": sampler.positives,
        "examples": len(examples),
        "negative_rate": rate,
        **{f"history/{k}": v for k, v in history.counts.items()},
        **{f"graph/{k}": v for k, v in inputs.graph_report.items()},
        **{f"metric/{k}": v for k, v in trained.metrics.items()},
        "importance": trained.importance,
        "seconds/graph": inputs.seconds["graph"],
        "seconds/candidates_and_features": candidate_seconds,
        "seconds/fit": time.perf_counter() - started,
    }
    return TrainingResult(trained, spec, report)


@dataclass
class ReplayEvaluation:
    """Metrics per ranker on the test window and the counts behind them."""

    window: ReplayWindow
    metrics: dict[str, dict[str, float]]
    counts: dict[str, float]

    def summary(self) -> dict[str, object]:
        """The benchmark's JSON: per ranker its metrics (None where undefined: a window without
        positives), plus the users and positives judged."""
        return {
            "rankers": {
                ranker: {k: None if math.isnan(v) else v for k, v in metrics.items()}
                for ranker, metrics in self.metrics.items()
            },
            "test_users": int(self.counts["test_users"]),
            "test_positives": int(self.counts["test_positives"]),
        }


def evaluate_replay(
    sources: ReplaySources,
    test_window: ReplayWindow,
    params: ReplayParams,
    scorer: Scorer,
    log: Callable[[str], None] = lambda _: None,
) -> ReplayEvaluation:
    """Rank the test window's candidates by visit count and by ``scorer`` (ties keep visit
    order), rank the corpus by popularity, and score every ranker on the window's positives."""
    config = params.config()
    inputs = prepare_window(sources, test_window, config)
    history = inputs.history
    log(f"test window {test_window}: {history.counts}")
    positives = history.positive_set
    found_keys, found_visit, found_model = [], [], []
    candidates = requests_with_candidates = 0
    started = time.perf_counter()
    with feature_context(scorer.feature_spec, sources, test_window) as context:
        for batch in candidate_batches(
            inputs.graph, history, config, params.candidates_k, params.seed, params.batch_requests
        ):
            features = context.featurize(batch[CANDIDATE_COLUMNS])
            scores = scorer.score(features)
            model_rank = ranks_within_groups(batch["request_idx"].to_numpy(), scores) + 1
            hit = positives.contains(batch["key"].to_numpy())
            found_keys.append(batch["key"].to_numpy()[hit])
            found_visit.append(batch["visit_rank"].to_numpy()[hit])
            found_model.append(model_rank[hit])
            candidates += len(batch)
            requests_with_candidates += batch["request_idx"].nunique()
    candidate_seconds = time.perf_counter() - started

    table = history.positives
    ranks = {name: np.full(len(table), np.inf) for name in RANKERS}
    if found_keys:
        keys = np.concatenate(found_keys)
        where = pd.Index(table["key"].to_numpy()).get_indexer(keys)
        ranks["visit_count"][where] = np.concatenate(found_visit)
        ranks["lightweight"][where] = np.concatenate(found_model)
    codec = history.codec
    start = pd.Timestamp(test_window.start)
    saved_before = sources.saves.loc[sources.saves["saved_at"] < start, "pin_id"].to_numpy()
    engaged = history.engaged.keys
    ranks["popularity"] = popularity_ranks(
        popularity_order(saved_before),
        codec.user_codes(table["user_id"].to_numpy()),
        table["pin_id"].to_numpy(),
        codec.user_of(engaged),
        codec.pins[engaged % max(len(codec.pins), 1)],
    )
    users = table["user_id"].to_numpy()
    metrics = {
        name: rank_metrics(users, ranks[name], params.hit_ks, params.cutoff) for name in RANKERS
    }
    in_graph = np.isin(table["pin_id"].to_numpy(), inputs.graph.pin_ids)
    counts: dict[str, float] = {
        **{f"history/{k}": v for k, v in history.counts.items()},
        **{f"graph/{k}": v for k, v in inputs.graph_report.items()},
        "test_users": int(table["user_id"].nunique()),
        "test_positives": len(table),
        "requests": len(history.requests),
        "requests_with_candidates": requests_with_candidates,
        "candidates": candidates,
        "positives_in_candidates": int(np.isfinite(ranks["visit_count"]).sum()),
        "positive_pins_in_graph": int(in_graph.sum()),
        "seconds/graph": inputs.seconds["graph"],
        "seconds/candidates_and_scoring": candidate_seconds,
    }
    return ReplayEvaluation(test_window, metrics, counts)


__all__ = [
    "RANKERS",
    "ReplayEvaluation",
    "ReplayParams",
    "ReplaySources",
    "TrainingResult",
    "evaluate_replay",
    "metric_names",
    "train_replay_model",
]
