"""Replay: offline evaluation of Pixie and its lightweight ranker on a user's own history.

Given users, pins, boards, saves and engagements (no serving logs, no impressions), a test window
is replayed as if served at its start: the graph holds the saves before it, every user with
earlier engagements is one request, and the pins they save during the window that they had never
engaged with are the positives. Visit count, a lightweight model trained the same way on the
window just before, and global popularity are compared by hit rate, recall and NDCG. Pure domain
code (no Dagster); ``pixie_assets.assets.replay`` wires it to assets.
"""

from pixie_assets.replay.model import load_model, save_model
from pixie_assets.replay.pipeline import (
    RANKERS,
    ReplayEvaluation,
    ReplayParams,
    ReplaySources,
    TrainingResult,
    evaluate_replay,
    train_replay_model,
)
from pixie_assets.replay.ranking import metric_names, rank_metrics, results_markdown
from pixie_assets.replay.window import ReplayWindow, ReplayWindowError

__all__ = [
    "RANKERS",
    "ReplayEvaluation",
    "ReplayParams",
    "ReplaySources",
    "ReplayWindow",
    "ReplayWindowError",
    "TrainingResult",
    "evaluate_replay",
    "load_model",
    "metric_names",
    "rank_metrics",
    "results_markdown",
    "save_model",
    "train_replay_model",
]
