"""Offline evaluation of rankers on a day's logged candidates, and (world mode) the simulated
outcome of serving with each of them.

The primary metrics are ``auc_sent/<actions>``: the AUC of the client's actions over the
candidates that were sent to the full ranker. Those are the rows where the lightweight ranker's
choice meets an outcome, there are M of them per request, and every ranker is scored on the same
rows. ``auc_impressed`` (over the k shown) is reported too but carries little signal when k is
small: the full ranker already picked those few by value.

Log metrics are computed from what was logged: the actions users took on what the serving ranker
let through. They favour the ranker that produced the logs; the simulation does not, because it
replays every request with each ranker through the same full ranker and user model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pixie_assets.clients import ClientConfig
from pixie_assets.contract import ACTIONS
from pixie_assets.training import metrics
from pixie_assets.world.simulator import expected_actions, run_full_ranker
from pixie_assets.world.truth import WorldTruth

ACTION_FLAGS = {"save": "saved", "click": "clicked", "closeup": "closeup", "hide": "hidden"}


def primary_name(config: ClientConfig) -> str:
    return "_".join(config.primary_actions)


def _acted(outcomes: pd.DataFrame, actions: tuple[str, ...]) -> np.ndarray:
    return outcomes[[ACTION_FLAGS[a] for a in actions]].to_numpy().sum(axis=1) > 0


def log_metrics(
    outcomes: pd.DataFrame, scores: np.ndarray, config: ClientConfig
) -> dict[str, float]:
    """Metrics of one ranker's scores over the logged candidates of a day (one row each, with
    request_id, sent_to_full_ranker, impressed, action flags, locale_match)."""
    group = pd.factorize(outcomes["request_id"])[0]
    impressed = outcomes["impressed"].to_numpy(dtype=bool)
    sent = outcomes["sent_to_full_ranker"].to_numpy(dtype=bool)
    m, k = config.full_ranker_m, config.shown_k
    out: dict[str, float] = {}
    positive = ("save", "click", "closeup")
    for actions in {config.primary_actions, ("save",), ("click",), ("closeup",), positive}:
        name = "any_action" if actions == positive else "_".join(actions)
        acted = _acted(outcomes, actions)
        out[f"auc_sent/{name}"] = metrics.auc(acted[sent], scores[sent])
        out[f"auc_impressed/{name}"] = metrics.auc(acted[impressed], scores[impressed])
        if actions != positive:
            out[f"recall_at_m/{name}"] = metrics.recall_at_k(group, scores, acted, m)
    out["funnel_efficiency"] = metrics.captured_at_k(group, scores, impressed, m)
    gains = sum(
        config.label_action_weights.get(a, 0.0) * outcomes[ACTION_FLAGS[a]].to_numpy()
        for a in positive
    )
    out["ndcg_at_k"] = metrics.ndcg_at_k(group, scores, np.asarray(gains, dtype=float), k)
    out["local_share_top_m"] = metrics.top_k_share(
        group, scores, outcomes["locale_match"].to_numpy() > 0, m
    )
    return out


def top_m(outcomes: pd.DataFrame, scores: np.ndarray, m: int) -> pd.DataFrame:
    """The M candidates per request a ranker would have sent to the full ranker."""
    rank = metrics.ranks_within_groups(pd.factorize(outcomes["request_id"])[0], scores)
    return outcomes.loc[rank < m, ["request_id", "user_id", "ts", "pin_id"]].reset_index(drop=True)


def simulated_metrics(
    truth: WorldTruth, config: ClientConfig, outcomes: pd.DataFrame, scores: np.ndarray, seed: int
) -> dict[str, float]:
    """Expected actions per request if this ranker had served the day (world mode only)."""
    sent = top_m(outcomes, scores, config.full_ranker_m)
    shown = run_full_ranker(truth, config, sent, seed).shown
    expected = expected_actions(truth, shown)
    requests = max(outcomes["request_id"].nunique(), 1)
    out = {
        f"sim/{a}_per_request": float(expected[:, i].sum() / requests)
        for i, a in enumerate(ACTIONS)
    }
    primary = sum(out[f"sim/{a}_per_request"] for a in config.primary_actions)
    out[f"sim/{primary_name(config)}_per_request"] = primary
    out["sim/primary_per_request"] = primary
    return out


@dataclass
class RankerEvaluation:
    name: str  # visit_count, challenger, champion
    version: str  # what it is: visit_count or registered model/version
    metrics: dict[str, float]


def comparison_frame(evaluations: list[RankerEvaluation]) -> pd.DataFrame:
    frame = pd.DataFrame({e.name: e.metrics for e in evaluations}).T
    frame.insert(0, "version", [e.version for e in evaluations])
    return frame


def comparison_markdown(frame: pd.DataFrame, primary_metric: str) -> str:
    columns = ["version", primary_metric] + [
        c for c in frame.columns if c not in ("version", primary_metric)
    ]
    head = "| ranker | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    rows = []
    for name, row in frame[columns].iterrows():
        cells = [row["version"]] + ["–" if pd.isna(v) else f"{v:.4f}" for v in row[columns[1:]]]
        rows.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join([head, rule, *rows])
