"""A replay end to end: for each test window, train the lightweight model on the windows before
it, then rank the window's candidates with visit count, that model, a plain random walk and
global popularity, and judge every ranker on the pins users saved in the window.

Every window is built the same way (``history``): the graph holds the saves before the window,
requests are the users with earlier engagements, candidates are their Pixie top K without the
pins they engaged with, and features are the project's FeatureSpec over a FeatureContext of the
window's first day. Nothing of a window is visible to its own construction except its labels.

A rolling-origin backtest runs this for N consecutive windows; the pooled figures treat each
(window, user) as one test user, and every figure carries a bootstrap interval over them
(``intervals``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.core.clients import ClientConfig, client_config
from pixie_assets.graph import PinBoardGraph, build_pin_board_graph
from pixie_assets.replay.candidates import (
    BatchWalker,
    CandidateSource,
    WalkCluster,
    candidate_batches,
    local_walker,
    pixie_source,
    plain_walk_source,
    request_queries,
    window_seed,
)
from pixie_assets.replay.history import WindowHistory, build_window_history
from pixie_assets.replay.intervals import Interval, UserFigures, bootstrap_intervals
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

RANKERS = ("popularity", "plain_walk", "visit_count", "lightweight")
# Differences reported with a paired interval: what the model adds to Pixie's order, and what
# Pixie's defaults add to a plain walk.
PAIRS = (("lightweight", "visit_count"), ("visit_count", "plain_walk"))

Reader = Callable[[str, date | None], pa.Table]
Log = Callable[[str], None]


def quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ReplayParams:
    """How a replay is run. The client supplies the query rule, walk settings and XGBoost
    parameters (homefeed: a user's recent engagements as the query); ``candidates_k`` is K, the
    candidates kept per request (hit@1000 needs K ≥ 1000). The model learns from up to
    ``training_windows`` windows before the test window, of the test window's length; the newest
    of them is held back to choose the number of trees (early stopping), then joins training."""

    client: str = "homefeed"
    candidates_k: int = 1000
    hit_ks: tuple[int, ...] = (10, 100, 1000)
    cutoff: int = 20
    batch_requests: int = 2048
    max_training_rows: int = 150_000
    negatives_per_positive: int = 200
    training_windows: int = 3
    replicates: int = 1000
    seed: int = 0
    # History the feature context sees: None = every engagement before the window, so the
    # user's topic affinity describes their taste even on bursty logs (a user back after months
    # has nothing in serving's 28 days); the 7-day counts filter to their own 7 days anyway.
    context_lookback_days: int | None = None

    def config(self) -> ClientConfig:
        return replace(client_config(self.client), candidates_k=self.candidates_k)

    def source(self) -> CandidateSource:
        return pixie_source(self.config())


@dataclass(frozen=True)
class ReplaySources:
    """The five input tables, with every event before the end of the last test window."""

    users: pa.Table
    pins: pa.Table
    boards: pa.Table
    saves: pd.DataFrame
    engagements: pd.DataFrame

    @classmethod
    def load(cls, read: Reader, until: date) -> ReplaySources:
        """``read(table, before)`` returns a contract table's rows (events before ``before``);
        ``until`` is the first day after the last test window."""
        return cls(
            users=read("users", None),
            pins=read("pins", None),
            boards=read("boards", None),
            saves=read("saves", until).to_pandas(),
            engagements=read("engagements", until).to_pandas(),
        )

    def first_event(self) -> date | None:
        """The day of the earliest save or engagement (None when there is none)."""
        times = [t.min() for t in (self.saves["saved_at"], self.engagements["ts"]) if len(t)]
        return min(times).date() if times else None


@dataclass
class WindowInputs:
    """Everything one window's candidates from one source are built from."""

    window: ReplayWindow
    graph: PinBoardGraph
    history: WindowHistory
    requests: pd.DataFrame  # request_queries: the requests with their query pins
    graph_report: dict[str, float]
    walker: BatchWalker
    seconds: dict[str, float] = field(default_factory=dict)


def prepare_window(
    sources: ReplaySources,
    window: ReplayWindow,
    source: CandidateSource,
    history: WindowHistory | None = None,
    cluster: WalkCluster | None = None,
) -> WindowInputs:
    """The window's graph (saves before its first day, pruned as ``source`` says), its
    requests/positives, each request's query pins, and what walks them: this process, or
    ``cluster`` (the graph is saved for its workers)."""
    started = time.perf_counter()
    graph, report = build_pin_board_graph(
        sources.saves,
        sources.pins.select(["pin_id", "locale", "topic"]),
        sources.boards.select(["board_id"]),
        cutoff=np.datetime64(window.start.isoformat()),
        config=source.prune,
    )
    graph_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if history is None:
        history = build_window_history(window, sources.saves, sources.engagements)
    requests = request_queries(history, sources.engagements, source.query)
    walker = (
        local_walker(graph)
        if cluster is None
        else cluster.walker(graph, f"{window.start}_{window.end}_{source.name}")
    )
    return WindowInputs(
        window,
        graph,
        history,
        requests,
        report.as_dict(),
        walker,
        {"graph": graph_seconds, "history": time.perf_counter() - started},
    )


def requests_with_query(inputs: WindowInputs) -> int:
    return int((inputs.requests["query_pin_ids"].map(len) > 0).sum())


def feature_context(
    spec: FeatureSpec,
    sources: ReplaySources,
    window: ReplayWindow,
    lookback_days: int | None = CONTEXT_LOOKBACK_DAYS,
) -> FeatureContext:
    """The serving feature context as of the window's first day (the candidates' ``ts``),
    over the ``lookback_days`` before it (None: all history)."""
    start = pd.Timestamp(window.start)
    since = (
        pd.Timestamp.min
        if lookback_days is None
        else pd.Timestamp(window.start - timedelta(days=lookback_days))
    )
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


# --- training ------------------------------------------------------------------------------


@dataclass
class TrainingResult:
    trained: TrainedModel
    spec: FeatureSpec
    report: dict[str, object]


@dataclass
class WindowExamples:
    """One training window's labeled candidates (negatives sampled) and what they came from."""

    window: ReplayWindow
    examples: pd.DataFrame
    candidates: int
    positives: int
    counts: dict[str, int]


def training_windows(
    test_window: ReplayWindow, count: int, first_event: date | None
) -> list[ReplayWindow]:
    """Up to ``count`` windows of the test window's length before it, newest first, none
    starting before the data does (a window before any event has nothing to learn from)."""
    windows: list[ReplayWindow] = []
    window = test_window
    for _ in range(count):
        window = window.previous()
        if first_event is not None and window.end < first_event:
            break
        windows.append(window)
    return windows


def window_examples(
    sources: ReplaySources,
    window: ReplayWindow,
    params: ReplayParams,
    spec: FeatureSpec,
    max_rows: int,
    cluster: WalkCluster | None = None,
) -> WindowExamples:
    """Candidates of ``window`` featurized as of its first day, labeled 1 where the user saved
    the pin during the window; negatives sampled to keep about ``max_rows`` rows."""
    inputs = prepare_window(sources, window, params.source(), cluster=cluster)
    history = inputs.history
    rate = negative_rate(requests_with_query(inputs) * params.candidates_k, max_rows)
    sampler = ExampleSampler(rate, window_seed(params.seed, history, "negatives"))
    positives = history.positive_set
    with feature_context(spec, sources, window, params.context_lookback_days) as context:
        for batch in candidate_batches(
            inputs.walker,
            history,
            inputs.requests,
            params.source().walk,
            params.candidates_k,
            params.seed,
            params.batch_requests,
        ):
            features = context.featurize(batch[CANDIDATE_COLUMNS]).to_pandas()
            sampler.add(batch, features, positives.contains(batch["key"].to_numpy()))
    examples = sampler.examples(spec.feature_names, params.negatives_per_positive)
    return WindowExamples(window, examples, sampler.candidates, sampler.positives, history.counts)


def train_replay_model(
    sources: ReplaySources,
    test_window: ReplayWindow,
    params: ReplayParams,
    spec: FeatureSpec | None = None,
    log: Log = quiet,
    cache: dict[ReplayWindow, WindowExamples] | None = None,
    cluster: WalkCluster | None = None,
) -> TrainingResult:
    """Fit the lightweight model on the windows before ``test_window``: the older ones train,
    the newest one decides when to stop adding trees, then the model is refit on all of them
    with that many trees (the newest window is the most like the test window). With a single
    window, a request holdout inside it stops training instead. Raises
    ``training.fit.TrainingDataError`` when no window has a positive among its candidates.

    ``cache`` keeps each window's examples for the next call: in a backtest, consecutive test
    windows share most of their training windows, and a window's examples depend only on the
    data before its end, the parameters and the feature spec (the caller keeps those fixed)."""
    spec = spec or repo_feature_spec()
    config = params.config()
    windows = training_windows(test_window, params.training_windows, sources.first_event())
    if not windows:
        raise TrainingDataError(
            f"no history before the test window {test_window}: nothing to train on"
        )
    started = time.perf_counter()
    per_row_budget = max(params.max_training_rows // params.training_windows, 1)
    parts = []
    for window in windows:
        part = cache.get(window) if cache is not None else None
        if part is None:
            part = window_examples(sources, window, params, spec, per_row_budget, cluster)
            if cache is not None:
                cache[window] = part
        log(
            f"training window {window}: {len(part.examples):,} examples "
            f"({part.positives:,} positives of {part.candidates:,} candidates)"
        )
        if part.positives:
            parts.append(part)
    candidate_seconds = time.perf_counter() - started
    if not parts:
        raise TrainingDataError(
            f"the {len(windows)} training window(s) before {test_window} "
            f"({', '.join(map(str, windows))}) have no saved pin among their candidates"
        )
    validation = parts[0].examples if len(parts) > 1 else None
    train = pd.concat([p.examples for p in (parts[1:] if len(parts) > 1 else parts)])
    started = time.perf_counter()
    try:
        trained = train_lightweight_model(
            train.reset_index(drop=True),
            spec.feature_names,
            config.objective,
            config.xgb_params,
            config.boost_rounds,
            seed=params.seed,
            validation=validation,
            refit=validation is not None,
        )
    except TrainingDataError as error:
        raise TrainingDataError(
            f"training windows {', '.join(str(p.window) for p in parts)} before {test_window}: "
            f"{error}"
        ) from error
    report: dict[str, object] = {
        "test_window": str(test_window),
        "train_window": str(windows[0]),
        "train_windows": [str(p.window) for p in parts],
        "validation_window": str(parts[0].window) if validation is not None else None,
        "client": params.client,
        "candidates_k": params.candidates_k,
        "seed": params.seed,
        "candidates": sum(p.candidates for p in parts),
        "candidate_positives": sum(p.positives for p in parts),
        "examples": sum(len(p.examples) for p in parts),
        **{f"metric/{k}": v for k, v in trained.metrics.items()},
        "importance": trained.importance,
        "seconds/candidates_and_features": candidate_seconds,
        "seconds/fit": time.perf_counter() - started,
    }
    return TrainingResult(trained, spec, report)


# --- evaluation ----------------------------------------------------------------------------


@dataclass
class WindowResult:
    """One test window judged: the rank every ranker gave every positive (``ranks``: user_id,
    pin_id and one column per ranker, ``inf`` = not in its list), the metrics they give, and
    the counts behind them."""

    window: ReplayWindow
    ranks: pd.DataFrame
    metrics: dict[str, dict[str, float]]
    counts: dict[str, float]

    def summary(self) -> dict[str, object]:
        return {
            "test_window": str(self.window),
            "rankers": _finite(self.metrics),
            "test_users": int(self.counts["test_users"]),
            "test_positives": int(self.counts["test_positives"]),
        }


def _finite(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    return {
        ranker: {k: None if math.isnan(v) else v for k, v in values.items()}
        for ranker, values in metrics.items()
    }


def walk_ranks(
    inputs: WindowInputs,
    source: CandidateSource,
    params: ReplayParams,
    on_batch: Callable[[pd.DataFrame], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Keys and visit ranks of the positives found among ``source``'s candidates (each batch is
    also passed to ``on_batch``), plus the number of candidates and of requests served."""
    positives = inputs.history.positive_set
    keys, visit = [], []
    candidates = served = 0
    for batch in candidate_batches(
        inputs.walker,
        inputs.history,
        inputs.requests,
        source.walk,
        params.candidates_k,
        params.seed,
        params.batch_requests,
    ):
        if on_batch is not None:
            on_batch(batch)
        hit = positives.contains(batch["key"].to_numpy())
        keys.append(batch["key"].to_numpy()[hit])
        visit.append(batch["visit_rank"].to_numpy()[hit])
        candidates += len(batch)
        served += batch["request_idx"].nunique()
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.float64), 0, 0
    return np.concatenate(keys), np.concatenate(visit), candidates, served


def evaluate_replay(
    sources: ReplaySources,
    test_window: ReplayWindow,
    params: ReplayParams,
    scorer: Scorer,
    log: Log = quiet,
    cluster: WalkCluster | None = None,
) -> WindowResult:
    """Rank the test window's Pixie candidates by visit count and by ``scorer`` (ties keep
    visit order), the plain walk's candidates by their visits, and the corpus by popularity;
    score every ranker on the window's positives."""
    source = params.source()
    inputs = prepare_window(sources, test_window, source, cluster=cluster)
    history = inputs.history
    log(f"test window {test_window}: {history.counts}")
    positives = history.positive_set
    model_keys, model_ranks = [], []
    started = time.perf_counter()
    with feature_context(
        scorer.feature_spec, sources, test_window, params.context_lookback_days
    ) as context:

        def score(batch: pd.DataFrame) -> None:
            scores = scorer.score(context.featurize(batch[CANDIDATE_COLUMNS]))
            rank = ranks_within_groups(batch["request_idx"].to_numpy(), scores) + 1
            hit = positives.contains(batch["key"].to_numpy())
            model_keys.append(batch["key"].to_numpy()[hit])
            model_ranks.append(rank[hit])

        visit_keys, visit_ranks, candidates, served = walk_ranks(inputs, source, params, score)
    candidate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    plain = plain_walk_source(params.config())
    plain_inputs = prepare_window(sources, test_window, plain, history=history, cluster=cluster)
    plain_keys, plain_ranks, _, _ = walk_ranks(plain_inputs, plain, params)
    plain_seconds = time.perf_counter() - started

    table = history.positives
    index = pd.Index(table["key"].to_numpy())
    ranks = {name: np.full(len(table), np.inf) for name in RANKERS}
    for name, keys, found in (
        ("visit_count", visit_keys, visit_ranks),
        ("lightweight", _concat(model_keys), _concat(model_ranks)),
        ("plain_walk", plain_keys, plain_ranks),
    ):
        ranks[name][index.get_indexer(keys)] = found
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
        "requests_with_query": requests_with_query(inputs),
        "requests_with_candidates": served,
        "candidates": candidates,
        "positives_in_candidates": int(np.isfinite(ranks["visit_count"]).sum()),
        "positives_in_plain_walk": int(np.isfinite(ranks["plain_walk"]).sum()),
        "positive_pins_in_graph": int(in_graph.sum()),
        "seconds/graph": inputs.seconds["graph"],
        "seconds/candidates_and_scoring": candidate_seconds,
        "seconds/plain_walk": plain_seconds,
    }
    frame = pd.DataFrame({"user_id": users, "pin_id": table["pin_id"].to_numpy(), **ranks})
    return WindowResult(test_window, frame, metrics, counts)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


# --- the backtest --------------------------------------------------------------------------


@dataclass
class ReplayReport:
    """Every window's result and the pooled figures over all of them, with intervals."""

    windows: list[WindowResult]
    metrics: dict[str, dict[str, float]]
    intervals: dict[str, dict[str, Interval]]
    paired: dict[str, dict[str, Interval]]
    counts: dict[str, float]
    params: ReplayParams

    def summary(self) -> dict[str, object]:
        """The benchmark's JSON: pooled metrics per ranker (None where undefined), their 95%
        intervals, the paired differences, and every window's own figures."""
        return {
            "rankers": _finite(self.metrics),
            "intervals": {
                ranker: {m: _pair(i) for m, i in values.items()}
                for ranker, values in self.intervals.items()
            },
            "paired": {
                name: {m: {"diff": _none(i.estimate), "ci": _pair(i)} for m, i in values.items()}
                for name, values in self.paired.items()
            },
            "windows": [w.summary() for w in self.windows],
            "test_users": int(self.counts["test_users"]),
            "test_positives": int(self.counts["test_positives"]),
            "bootstrap": {
                "replicates": self.params.replicates,
                "level": 0.95,
                "seed": self.params.seed,
            },
        }


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _pair(interval: Interval) -> list[float | None]:
    return [_none(interval.low), _none(interval.high)]


def pool_windows(results: Sequence[WindowResult], params: ReplayParams) -> ReplayReport:
    """Pooled metrics over the windows (each (window, user) one test user) with bootstrap
    intervals over those test users."""
    frames = [r.ranks.assign(unit=f"{i}:") for i, r in enumerate(results)]
    ranks = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["user_id", "pin_id", "unit", *RANKERS])
    )
    unit = ranks["unit"].astype(str) + ranks["user_id"].astype(str)
    codes, uniques = pd.factorize(unit)
    figures = {
        name: UserFigures.of(
            codes, ranks[name].to_numpy(np.float64), len(uniques), params.hit_ks, params.cutoff
        )
        for name in RANKERS
    }
    metrics = {
        name: rank_metrics(
            unit.to_numpy(), ranks[name].to_numpy(np.float64), params.hit_ks, params.cutoff
        )
        for name in RANKERS
    }
    intervals, paired = bootstrap_intervals(
        figures, PAIRS, replicates=params.replicates, seed=params.seed
    )
    counts = {
        "windows": len(results),
        "test_users": int(len(uniques)),
        "test_positives": int(len(ranks)),
    }
    return ReplayReport(list(results), metrics, intervals, paired, counts, params)


__all__ = [
    "PAIRS",
    "RANKERS",
    "ReplayParams",
    "ReplayReport",
    "ReplaySources",
    "TrainingResult",
    "WindowResult",
    "evaluate_replay",
    "metric_names",
    "pool_windows",
    "train_replay_model",
    "training_windows",
]
