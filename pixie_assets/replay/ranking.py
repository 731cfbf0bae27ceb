"""Replay metrics, computed from the rank each ranker gave each positive.

Every positive (user, pin) gets one rank per ranker: its 1-based position in that user's list,
or infinity when the list does not hold it (the pin was not among the walk's candidates, is not
in the graph, was never saved...). Metrics then follow from ranks alone, so a positive the
candidate generator missed is a miss for every ranker that reorders candidates, which is the
honest comparison with a ranker (popularity) that draws from the whole corpus:

- ``hit@k`` (Pixie paper): positives ranked ≤ k over all positives, pooled over users;
- ``recall@k``: per user, positives ranked ≤ k over that user's positives, averaged over users
  with at least one positive;
- ``ndcg@k``: per user, Σ 1/log2(1 + rank) over positives ranked ≤ k, divided by the ideal
  Σ_{i ≤ min(n, k)} 1/log2(1 + i) for the user's n positives (binary gains, the same discount
  as ``training.metrics.ndcg_at_k``), averaged over users with at least one positive.

Unlike ``training.metrics``, which sees only the rows it is given, the ideal here counts every
positive of the user, including those no candidate list holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def metric_names(hit_ks: Sequence[int], cutoff: int) -> list[str]:
    return [*(f"hit@{k}" for k in hit_ks), f"recall@{cutoff}", f"ndcg@{cutoff}"]


def rank_metrics(
    users: np.ndarray, ranks: np.ndarray, hit_ks: Sequence[int] = (10, 100, 1000), cutoff: int = 20
) -> dict[str, float]:
    """Metrics of one ranker from the rank of each positive (``users[i]`` owns positive i;
    ``ranks[i]`` is 1-based or ``inf``). NaN everywhere when there are no positives."""
    users = np.asarray(users)
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.shape != users.shape:
        raise ValueError("users and ranks differ in length")
    if np.any(ranks < 1):
        raise ValueError("ranks are 1-based")
    names = metric_names(hit_ks, cutoff)
    if len(ranks) == 0:
        return dict.fromkeys(names, float("nan"))
    out = {f"hit@{k}": float(np.mean(ranks <= k)) for k in hit_ks}
    _, user = np.unique(users, return_inverse=True)
    n_users = int(user.max()) + 1
    positives = np.bincount(user, minlength=n_users).astype(np.float64)
    found = np.bincount(user, weights=(ranks <= cutoff), minlength=n_users)
    out[f"recall@{cutoff}"] = float(np.mean(found / positives))
    with np.errstate(divide="ignore"):
        gain = np.where(ranks <= cutoff, 1.0 / np.log2(1.0 + ranks), 0.0)
    dcg = np.bincount(user, weights=gain, minlength=n_users)
    ideal_cumulative = np.cumsum(1.0 / np.log2(2.0 + np.arange(cutoff)))
    ideal = ideal_cumulative[np.minimum(positives, cutoff).astype(np.int64) - 1]
    out[f"ndcg@{cutoff}"] = float(np.mean(dcg / ideal))
    return out


def popularity_order(saved_pin_ids: np.ndarray) -> np.ndarray:
    """Pins by number of saves, most first, ties by pin id (so the list is reproducible)."""
    pins, counts = np.unique(np.asarray(saved_pin_ids, dtype=np.int64), return_counts=True)
    return pins[np.lexsort((pins, -counts))]


def popularity_ranks(
    order: np.ndarray,
    positive_users: np.ndarray,
    positive_pins: np.ndarray,
    engaged_users: np.ndarray,
    engaged_pins: np.ndarray,
) -> np.ndarray:
    """Rank of each positive in its user's popularity list: the global ``order`` minus the
    pins that user engaged with, without building any per-user list. A positive at global
    rank g ranks g − (its user's engaged pins ranked above g); ``inf`` if the pin is not in
    ``order``. Users are any integer codes shared by both arguments."""
    order = np.asarray(order, dtype=np.int64)
    n = len(order)
    by_id = np.argsort(order, kind="stable")
    sorted_ids = order[by_id]
    global_rank = by_id + 1  # 1-based rank of sorted_ids[i]

    def rank_of(pins: np.ndarray) -> np.ndarray:
        pins = np.asarray(pins, dtype=np.int64)
        if n == 0:
            return np.zeros(len(pins), dtype=np.int64)
        position = np.minimum(np.searchsorted(sorted_ids, pins), n - 1)
        return np.where(sorted_ids[position] == pins, global_rank[position], 0)

    engaged_rank = rank_of(engaged_pins)
    listed = engaged_rank > 0
    stride = n + 1
    engaged_users = np.asarray(engaged_users, np.int64)[listed]
    engaged_keys = np.sort(engaged_users * stride + engaged_rank[listed])
    positive_rank = rank_of(positive_pins)
    base = np.asarray(positive_users, np.int64) * stride
    above = np.searchsorted(engaged_keys, base + positive_rank) - np.searchsorted(
        engaged_keys, base
    )
    return np.where(positive_rank > 0, positive_rank - above, np.inf).astype(np.float64)


def results_markdown(
    metrics: dict[str, dict[str, float]],
    intervals: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Rankers as rows, metrics as columns, best value of each column in bold; with
    ``intervals`` (``intervals.Interval`` per ranker and metric) each cell adds its 95% range."""
    frame = pd.DataFrame(metrics).T
    lines = [
        "| ranker | " + " | ".join(frame.columns) + " |",
        "|---" * (len(frame.columns) + 1) + "|",
    ]
    best = frame.max(axis=0)
    for name, row in frame.iterrows():
        cells = []
        for column, value in row.items():
            text = f"{value:.4f}"
            if value == best[column] and not np.isnan(value):
                text = f"**{text}**"
            interval = (intervals or {}).get(str(name), {}).get(str(column))
            if interval is not None and np.isfinite(interval.low):
                text += f" ({interval.low:.4f}–{interval.high:.4f})"
            cells.append(text)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_markdown(paired: dict[str, dict[str, Any]]) -> str:
    """One row per compared pair: the difference of each metric and its paired 95% interval."""
    if not paired:
        return ""
    columns = list(next(iter(paired.values())))
    lines = ["| difference | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in paired.items():
        cells = [
            f"{i.estimate:+.4f} ({i.low:+.4f} to {i.high:+.4f})"
            if np.isfinite(i.low)
            else f"{i.estimate:+.4f}"
            for i in values.values()
        ]
        lines.append(f"| {name.replace('-', ' − ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
