"""Which of Pixie's choices earn their place on a given log: every candidate source of
``candidates.ablation_sources`` (the defaults, each choice turned off alone, a plain walk) ranks
the same test windows' positives by visit count, and each is compared with the defaults on the
same test users (paired bootstrap intervals).

Only candidate generation is judged here (visit-count order, no model), so a row says what one
choice does to the candidates a ranker would get to reorder.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixie_assets.replay.candidates import CandidateSource, WalkCluster
from pixie_assets.replay.history import build_window_history
from pixie_assets.replay.intervals import Interval, UserFigures, bootstrap_intervals
from pixie_assets.replay.pipeline import (
    Log,
    ReplayParams,
    ReplaySources,
    prepare_window,
    quiet,
    walk_ranks,
)
from pixie_assets.replay.window import ReplayWindow


@dataclass
class AblationResult:
    """Per source: pooled metrics (with intervals), the paired difference to the first source
    (the defaults), the applied prune thresholds of the last window and seconds spent."""

    metrics: dict[str, dict[str, Interval]]
    versus_default: dict[str, dict[str, Interval]]
    thresholds: dict[str, dict[str, float | None]]
    seconds: dict[str, float]
    test_users: int
    test_positives: int

    def markdown(self) -> str:
        names = list(self.metrics)
        columns = list(self.metrics[names[0]])
        head = "| source | " + " | ".join(columns) + " | Δ hit@100 vs defaults (95%) |"
        lines = [head, "|---" * (len(columns) + 2) + "|"]
        for name in names:
            cells = [f"{self.metrics[name][c].estimate:.4f}" for c in columns]
            delta = self.versus_default.get(name, {}).get("hit@100")
            shown = (
                "–"
                if delta is None
                else f"{delta.estimate:+.4f} ({delta.low:+.4f} to {delta.high:+.4f})"
            )
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {shown} |")
        return "\n".join(lines)


def candidate_ablation(
    sources: ReplaySources,
    windows: Sequence[ReplayWindow],
    params: ReplayParams,
    candidate_sources: Sequence[CandidateSource],
    log: Log = quiet,
    cluster: WalkCluster | None = None,
) -> AblationResult:
    """Visit-count metrics of each candidate source over ``windows`` (pooled, each (window,
    user) one test user), the first source being the reference of the paired differences."""

    ranks: dict[str, list[np.ndarray]] = {s.name: [] for s in candidate_sources}
    units: list[np.ndarray] = []
    thresholds: dict[str, dict[str, float | None]] = {}
    seconds = dict.fromkeys(ranks, 0.0)
    for i, window in enumerate(windows):
        history = build_window_history(window, sources.saves, sources.engagements)
        table = history.positives
        index = pd.Index(table["key"].to_numpy())
        units.append(np.char.add(f"{i}:", table["user_id"].to_numpy().astype(str)))
        for source in candidate_sources:
            started = time.perf_counter()
            inputs = prepare_window(sources, window, source, history=history, cluster=cluster)
            keys, found, _, _ = walk_ranks(inputs, source, params)
            column = np.full(len(table), np.inf)
            column[index.get_indexer(keys)] = found
            ranks[source.name].append(column)
            thresholds[source.name] = {  # None: no threshold (pruning off)
                k: (v if v < 2**60 else None)
                for k, v in inputs.graph_report.items()
                if k.startswith("threshold/")
            }
            seconds[source.name] += time.perf_counter() - started
        log(f"window {window}: {len(table):,} positives, {len(candidate_sources)} sources")
    unit = np.concatenate(units) if units else np.empty(0, dtype=str)
    codes, uniques = pd.factorize(unit)
    figures = {
        name: UserFigures.of(
            codes, np.concatenate(parts), len(uniques), params.hit_ks, params.cutoff
        )
        for name, parts in ranks.items()
    }
    reference = candidate_sources[0].name
    pairs = [(s.name, reference) for s in candidate_sources[1:]]
    metrics, paired = bootstrap_intervals(
        figures, pairs, replicates=params.replicates, seed=params.seed
    )
    versus = {a: paired[f"{a}-{reference}"] for a, _ in pairs}
    return AblationResult(metrics, versus, thresholds, seconds, len(uniques), int(len(unit)))
