"""Offline evaluation of rankers on a day's logged candidates: ``evaluate_rankers``, the one
entry point of model_evaluation and the strategy study.

Three kinds of figures per ranker:

* Log metrics (``log_metrics``): ``auc_sent/<actions>``, the AUC of the client's actions over the
  candidates that were sent to the full ranker (M rows per request where the lightweight
  ranker's choice meets an outcome, the same rows for every ranker); ``auc_impressed`` over the k
  shown (little signal when k is small: the full ranker already picked those few by value);
  recall@M, funnel efficiency, NDCG@k, local share. They score a ranker on the set another ranker
  — the logging policy — chose, so they favour it and say little about the size of a gain.
* Off-policy estimates (``offpolicy_metrics``): ``ips/``, ``snips/`` and
  ``dr/<actions>_per_request``, the actions per request the ranker's own top M would have
  collected, from the logged exploration and its known propensities (``training.offpolicy``).
  These need no simulator, so they are what landing mode can promote on.
* Simulation (``sim/…``, world mode only): every request replayed with the ranker through the
  same full ranker and user model; the truth the other two are judged against
  (``training.metric_validity``). The replay needs the world's hidden truth, which training must
  never read, so it comes in as a ``Simulate`` callable that the world builds
  (``world/counterfactual.py``); this module imports nothing from the world.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.sql import load_sql, render_sql
from pixie_assets.serving.funnel import rank_within_requests
from pixie_assets.serving.scoring import VISIT_COUNT_VERSION
from pixie_assets.training import metrics, offpolicy

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


def serving_ranks(outcomes: pd.DataFrame, scores: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its request by ``scores``, ties broken as serving breaks
    them (ascending visit rank; row order where the frame has no visit_rank). Visit count ties
    often, so without the serving tie rule its top M would depend on the SQL's row order."""
    codes = pd.factorize(outcomes["request_id"])[0]
    tiebreak = (
        outcomes["visit_rank"].to_numpy()
        if "visit_rank" in outcomes.columns
        else np.arange(len(outcomes))
    )
    return rank_within_requests(codes, np.asarray(scores, dtype=np.float64), tiebreak)


def top_m(outcomes: pd.DataFrame, scores: np.ndarray, m: int) -> pd.DataFrame:
    """The M candidates per request a ranker would have sent to the full ranker."""
    rank = serving_ranks(outcomes, scores)
    return outcomes.loc[rank < m, ["request_id", "user_id", "ts", "pin_id"]].reset_index(drop=True)


# Share of requests whose logged sent flags must fit the funnel's policy for its propensities to
# be trusted; a little slack for ties a service broke differently (see logged_policy_match).
MIN_POLICY_MATCH = 0.99


@dataclass(frozen=True)
class LoggedFunnel:
    """What the logging policy did on a day, derived from logged columns only: each row's rank
    by the logged lightweight score and its probability of having been sent."""

    codes: np.ndarray
    logged_rank: np.ndarray
    propensity: np.ndarray
    sent: np.ndarray
    policy_match: float


def logged_funnel(outcomes: pd.DataFrame, config: ClientConfig) -> LoggedFunnel:
    """Propensities of the day's logged candidates under the client's funnel (M, exploration
    slots from ``config``), from the logged lightweight score and visit rank."""
    codes = pd.factorize(outcomes["request_id"])[0]
    rank = serving_ranks(outcomes, outcomes["lightweight_score"].to_numpy())
    propensity = offpolicy.logging_propensities(
        codes, rank, config.full_ranker_m, config.explore_slots
    )
    sent = outcomes["sent_to_full_ranker"].to_numpy(dtype=bool)
    match = offpolicy.logged_policy_match(codes, propensity, sent)
    return LoggedFunnel(codes, rank, propensity, sent, match)


def offpolicy_metrics(
    outcomes: pd.DataFrame,
    scores: np.ndarray,
    config: ClientConfig,
    logged: LoggedFunnel | None = None,
) -> dict[str, float]:
    """IPS, SNIPS and DR estimates of the actions per request of this ranker's top M, for the
    client's primary actions and each positive action: ``ips/``, ``snips/``, ``dr/`` of the
    additive estimand and ``ips_slot/``, ``snips_slot/``, ``dr_slot/`` of the slot-adjusted one
    (the full ranker's k impressions held fixed; see ``training.offpolicy``). Standard errors
    for the primary ones (``ips_se/``, ``dr_se/``, ``ips_slot_se/``, ``dr_slot_se/``) and the
    diagnostics ``ope/support`` (share of its top-M slots the log could have sent),
    ``ope/overlap`` (share it did send) and ``ope/logged_policy_match``.

    NaN where the estimate is not identified: a top-M candidate that could never have been sent
    (no exploration slots), or logs that do not fit the funnel's policy (fewer than
    ``MIN_POLICY_MATCH`` of the requests)."""
    logged = logged or logged_funnel(outcomes, config)
    primary = primary_name(config)
    names = [primary] + [a for a in ("save", "click", "closeup") if a != primary]
    columns = [config.primary_actions] + [(a,) for a in names[1:]]
    y = np.column_stack(
        [outcomes[[ACTION_FLAGS[a] for a in c]].to_numpy(dtype=float).sum(axis=1) for c in columns]
    )
    estimates: dict[str, offpolicy.TopMEstimate | None] = {"": None, "_slot": None}
    # Logs another policy wrote have no known propensities: report NaN rather than estimates
    # weighted by the wrong ones (or an error for a row "sent with propensity 0").
    if len(outcomes) and logged.policy_match >= MIN_POLICY_MATCH:
        ranks = serving_ranks(outcomes, scores)
        args = (logged.codes, ranks, logged.logged_rank, logged.propensity, logged.sent, y)
        shown = outcomes["impressed"].to_numpy(dtype=bool)
        slot_value = offpolicy.marginal_slot_value(
            logged.codes, shown, outcomes["position"].to_numpy(), y
        )
        try:
            estimates[""] = offpolicy.estimate_top_m(*args, config.full_ranker_m)
            estimates["_slot"] = offpolicy.estimate_top_m(
                *args, config.full_ranker_m, shown=shown, slot_value=slot_value
            )
        except offpolicy.LoggedPolicyError:  # the few requests the policy match let through
            estimates = {"": None, "_slot": None}
    estimate = estimates[""]
    nan = float("nan")
    out: dict[str, float] = {}
    for suffix, found in estimates.items():
        for family in ("ips", "snips", "dr"):
            for i, name in enumerate(names):
                value = float(getattr(found, family)[i]) if found is not None else nan
                out[f"{family}{suffix}/{name}_per_request"] = value
        for family in ("ips", "dr"):
            se = float(getattr(found, f"{family}_se")[0]) if found is not None else nan
            out[f"{family}{suffix}_se/{primary}_per_request"] = se
    out["ope/support"] = estimate.support if estimate is not None else nan
    out["ope/overlap"] = estimate.overlap if estimate is not None else nan
    out["ope/logged_policy_match"] = logged.policy_match
    return out


# The simulated outcome of one ranker: (the day's logged candidates, the ranker's score of each
# row) → ``sim/<action>_per_request`` figures. Built by the world in world mode (its truth, the
# client and a seed bound inside); None in landing mode, where there is no truth to replay.
Simulate = Callable[[pd.DataFrame, np.ndarray], dict[str, float]]


@dataclass(frozen=True)
class Ranker:
    """One contender of an evaluation: its scores of the day's logged candidates, row-aligned."""

    name: str  # visit_count, challenger, champion, or a study arm
    version: str  # what it is: visit_count or registered model/version
    scores: np.ndarray


@dataclass
class RankerEvaluation:
    name: str  # visit_count, challenger, champion
    version: str  # what it is: visit_count or registered model/version
    metrics: dict[str, float]


# Requests an evaluation scores per (day, client), at most: every ranker on the same sample.
# Its AUCs rest on millions of candidates at the cap, and a large world's homefeed day (200k
# requests × 200 candidates, with the features of three rankers) no longer fits in 24 GiB whole.
EVALUATION_MAX_REQUESTS = 25_000


def logged_outcomes(
    con: duckdb.DuckDBPyConnection, day: date, client: str, max_requests: int | None = None
) -> pd.DataFrame:
    """The day's logged candidates of one client with their outcomes (``labels/outcomes.sql``),
    one row each: what every ranker of an evaluation is scored on. With ``max_requests``, only
    that many of the day's requests (a fixed sample by the hash of their ids): an evaluation's
    memory then follows the cap, not the day's traffic."""
    params: dict[str, object] = {"day": day, "client": client}
    if max_requests is None:
        return con.sql(load_sql("labels/outcomes"), params=params).df()
    sql = render_sql("evaluation/sampled_outcomes", outcomes=load_sql("labels/outcomes"))
    return con.sql(sql, params={**params, "max_requests": max_requests}).df()


def visit_count_ranker(outcomes: pd.DataFrame) -> Ranker:
    """The baseline every evaluation includes: Pixie's visit count as the score."""
    return Ranker("visit_count", VISIT_COUNT_VERSION, outcomes["visit_count"].to_numpy())


def evaluate_rankers(
    outcomes: pd.DataFrame,
    rankers: Sequence[Ranker],
    config: ClientConfig,
    simulate: Simulate | None = None,
) -> list[RankerEvaluation]:
    """Everything model_evaluation and the strategy study report for each ranker, in order: log
    metrics, off-policy estimates (the logging policy's propensities derived once, the same for
    every ranker) and, when ``simulate`` is given, the simulated outcome of serving with it."""
    logged = logged_funnel(outcomes, config)
    evaluations = []
    for ranker in rankers:
        figures = log_metrics(outcomes, ranker.scores, config)
        figures.update(offpolicy_metrics(outcomes, ranker.scores, config, logged))
        if simulate is not None:
            figures.update(simulate(outcomes, ranker.scores))
        evaluations.append(RankerEvaluation(ranker.name, ranker.version, figures))
    return evaluations


def has_impressions(outcomes: pd.DataFrame) -> bool:
    """Whether the day's logs can judge anything: some candidate was shown."""
    return len(outcomes) > 0 and bool(outcomes["impressed"].any())


def comparison_frame(evaluations: list[RankerEvaluation]) -> pd.DataFrame:
    frame = pd.DataFrame({e.name: e.metrics for e in evaluations}).T
    frame.insert(0, "version", [e.version for e in evaluations])
    return frame


def comparison_markdown(frame: pd.DataFrame, primary_metric: str) -> str:
    """One row per ranker, a column per metric: the strategy study's table, whose arms are
    many and whose metrics it picks (``study_table``); model_evaluation's is ``review_markdown``."""
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


# --- the comparison a reviewer reads ------------------------------------------------------------


@dataclass(frozen=True)
class SampleSizes:
    """How much of the day's log an evaluation's figures rest on: an AUC gap of 0.01 means
    little over 40 positives and a lot over 4,000, and the comparison alone cannot tell which."""

    requests: int
    candidates: int  # logged candidates, every ranker scores all of them
    sent: int  # sent to the full ranker: the rows of auc_sent and recall@M
    impressions: int  # shown: the rows of auc_impressed
    primary: str  # the client's primary actions, e.g. "save" or "click_closeup"
    primary_positives: int  # sent rows with a primary action: the positives of auc_sent
    actions: dict[str, int]  # candidates with each action (save, click, closeup, hide)

    def as_metrics(self) -> dict[str, float]:
        """``sample.<count>`` figures for the MLflow evaluation run."""
        counts = {
            "requests": self.requests,
            "candidates": self.candidates,
            "sent": self.sent,
            "impressions": self.impressions,
            f"sent_with_{self.primary}": self.primary_positives,
            **{f"with_{action}": n for action, n in self.actions.items()},
        }
        return {f"sample.{name}": float(n) for name, n in counts.items()}

    def markdown(self) -> str:
        actions = " · ".join(f"{action} {n:,}" for action, n in self.actions.items())
        return "\n".join(
            [
                "**Sample** (the day's logged candidates of the client)",
                "",
                f"- requests: {self.requests:,}",
                f"- logged candidates: {self.candidates:,}",
                f"- sent to the full ranker (rows of auc_sent, recall@M): {self.sent:,}",
                f"- impressions (rows of auc_impressed): {self.impressions:,}",
                f"- sent with {self.primary} (positives of auc_sent/{self.primary}): "
                f"{self.primary_positives:,}",
                f"- candidates with each action: {actions}",
            ]
        )


def sample_sizes(outcomes: pd.DataFrame, config: ClientConfig) -> SampleSizes:
    """The counts behind an evaluation of ``outcomes`` (``logged_outcomes``) for ``config``."""
    sent = outcomes["sent_to_full_ranker"].to_numpy(dtype=bool)
    positives = _acted(outcomes, config.primary_actions) & sent
    return SampleSizes(
        requests=int(outcomes["request_id"].nunique()),
        candidates=len(outcomes),
        sent=int(sent.sum()),
        impressions=int(outcomes["impressed"].to_numpy(dtype=bool).sum()),
        primary=primary_name(config),
        primary_positives=int(positives.sum()),
        actions={a: int((outcomes[flag].to_numpy() > 0).sum()) for a, flag in ACTION_FLAGS.items()},
    )


# The rankers of an evaluation in the order a reviewer compares them, and their column headers.
REVIEW_RANKERS = {"visit_count": "visit count", "champion": "champion", "challenger": "challenger"}


def review_rankers(frame: pd.DataFrame) -> list[str]:
    """The frame's rankers in review order: visit count, champion, challenger, then any other
    (a study arm) as the frame has them."""
    known = [name for name in REVIEW_RANKERS if name in frame.index]
    return known + [name for name in frame.index if name not in REVIEW_RANKERS]


def delta_baseline(rankers: Sequence[str]) -> str | None:
    """What the challenger's Δ is taken against: the champion it would replace, visit count
    while there is none; None without a challenger (nothing is being judged)."""
    if "challenger" not in rankers:
        return None
    return next((name for name in ("champion", "visit_count") if name in rankers), None)


def review_metric_order(frame: pd.DataFrame, primary_metric: str) -> list[str]:
    """The primary metric, then the others grouped by family (``auc_sent``, ``dr``, …) in the
    order the evaluation first reports each family, by name within it: the log metrics'
    action sets come out of a set, so the frame's own column order differs between processes."""
    metrics = [c for c in frame.columns if c != "version"]
    families = list(dict.fromkeys(m.split("/")[0] for m in metrics))
    others = sorted(
        (m for m in metrics if m != primary_metric),
        key=lambda m: (families.index(m.split("/")[0]), m),
    )
    return ([primary_metric] if primary_metric in metrics else []) + others


def _figure(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.4f}"


def _difference(value: float, baseline: float) -> str:
    return "–" if pd.isna(value) or pd.isna(baseline) else f"{value - baseline:+.4f}"


def _review_row(frame: pd.DataFrame, metric: str, rankers: list[str], label: str) -> str:
    cells = [label, *(_figure(frame.loc[r, metric]) for r in rankers)]
    baseline = delta_baseline(rankers)
    if baseline is not None:
        cells.append(_difference(frame.loc["challenger", metric], frame.loc[baseline, metric]))
    return "| " + " | ".join(cells) + " |"


def _review_versions(frame: pd.DataFrame, rankers: list[str]) -> str:
    """Which model each column is (the table's headers name roles, not versions)."""
    named = [f"{REVIEW_RANKERS.get(r, r)} = `{frame.loc[r, 'version']}`" for r in rankers]
    return "Columns: " + "; ".join(named) + "."


def review_markdown(
    frame: pd.DataFrame, primary_metric: str, sample: SampleSizes | None = None
) -> str:
    """The comparison (``comparison_frame``) as a reviewer reads it: one row per metric, the
    primary metric first and in bold, a column per ranker present and the challenger's Δ
    against the champion (visit count while there is none); then which version each column
    is and the sample sizes. Narrow on purpose: the same text is the Dagster metadata, the
    evaluation run's ``comparison.md`` and the model version's description, and MLflow's
    description page runs the headers of a wide table together."""
    rankers = review_rankers(frame)
    baseline = delta_baseline(rankers)
    headers = ["metric", *(REVIEW_RANKERS.get(r, r) for r in rankers)]
    if baseline is not None:
        headers.append(f"Δ (challenger − {REVIEW_RANKERS[baseline]})")
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    for metric in review_metric_order(frame, primary_metric):
        label = f"**{metric}** (primary)" if metric == primary_metric else metric
        lines.append(_review_row(frame, metric, rankers, label))
    blocks = ["\n".join(lines), _review_versions(frame, rankers)]
    if sample is not None:
        blocks.append(sample.markdown())
    return "\n\n".join(blocks)
