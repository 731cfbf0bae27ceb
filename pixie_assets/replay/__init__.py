"""Replay: offline evaluation of Pixie and its lightweight ranker on a user's own history.

Given users, pins, boards, saves and engagements (no serving logs, no impressions), a test window
is replayed as if served at its start: the graph holds the saves before it, every user with
earlier engagements is one request, and the pins they save during the window that they had never
engaged with are the positives. Visit count, a lightweight model trained the same way on the
windows just before, a plain random walk and global popularity are compared by hit rate, recall
and NDCG, with bootstrap intervals; a rolling-origin backtest repeats this over consecutive
windows. Pure domain code (no Dagster); ``pixie_assets.defs.assets.replay`` wires it to assets.
"""

from pixie_assets.replay.candidates import (
    CandidateSource,
    WalkCluster,
    ablation_sources,
    pixie_source,
    plain_walk_source,
)
from pixie_assets.replay.intervals import Interval, UserFigures, bootstrap_intervals
from pixie_assets.replay.model import load_model, save_model
from pixie_assets.replay.pipeline import (
    PAIRS,
    RANKERS,
    ReplayParams,
    ReplayReport,
    ReplaySources,
    TrainingResult,
    WindowResult,
    evaluate_replay,
    pool_windows,
    train_replay_model,
)
from pixie_assets.replay.ranking import metric_names, rank_metrics, results_markdown
from pixie_assets.replay.window import ReplayWindow, ReplayWindowError, rolling_windows

__all__ = [
    "PAIRS",
    "RANKERS",
    "CandidateSource",
    "Interval",
    "ReplayParams",
    "ReplayReport",
    "ReplaySources",
    "ReplayWindow",
    "ReplayWindowError",
    "TrainingResult",
    "UserFigures",
    "WindowResult",
    "ablation_sources",
    "bootstrap_intervals",
    "evaluate_replay",
    "load_model",
    "metric_names",
    "pixie_source",
    "WalkCluster",
    "plain_walk_source",
    "pool_windows",
    "rank_metrics",
    "results_markdown",
    "rolling_windows",
    "save_model",
    "train_replay_model",
]
