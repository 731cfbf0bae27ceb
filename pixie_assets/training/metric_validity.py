"""Which offline metric tracks the online truth?

An offline metric is only worth promoting on if it orders rankers the way serving them would. In
world mode the simulator gives that order (``sim/primary_per_request``: expected primary actions
per request had the ranker served the day), so the evaluations of many (day, client, ranker) rows
can tell, for every offline metric, how well it tracks the truth. Three views, each a Spearman
rank correlation (ties get average ranks):

``pooled``
    Over every (day, client, ranker) row. Mixes clients whose action rates differ by an order of
    magnitude, so it mostly says whether a metric moves with the level of a surface; reported
    because it is the plainest number, not because promotion uses it.
``within``
    The mean over (day, client) groups of the correlation among that group's rankers (visit
    count, champion, challenger): does the metric order the rankers of one day like the truth?
``diff``
    Over (day, client) groups that have a challenger: the challenger's relative difference to its
    baseline — the champion, or visit count while there is none, exactly as promotion compares
    them — on the metric, against the same relative difference on the truth (other contenders of
    the day, if the rows hold any, count as more challengers). This is the decision
    promotion takes. Relative, because promotion's margin is relative and because it puts
    surfaces of different action rates on one scale. ``diff_sign`` is the share of those groups
    where the metric and the truth agree on who is ahead (the promotion decision at margin 0),
    ``diff_sign_weighted`` the same with each group weighted by the size of the truth's
    difference (a wrong call on a near-tie costs little), ``diff_low``/``diff_high`` a
    percentile bootstrap interval of ``diff`` over groups, and ``diff_scale`` how large the
    metric's differences are against the truth's (slope through the origin; 1 = same size, the
    promotion margin then means what it says).

Pure pandas/numpy: no Dagster, no MLflow.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd

TRUTH = "sim/primary_per_request"
KEYS = ("day", "client", "ranker")


def average_ranks(values: npt.ArrayLike) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (what Spearman's rho needs)."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    new = np.r_[True, sorted_v[1:] != sorted_v[:-1]]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(v)]
    mean_rank = (starts + ends + 1) / 2.0  # average of 1-based ranks start+1 .. end
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rho over the pairs where both values are finite; NaN with fewer than two such
    pairs or when either side is constant (no order to agree with)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return float("nan")
    ra, rb = average_ranks(a[keep]), average_ranks(b[keep])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def generic_metric_names(metrics: dict[str, float], primary: str) -> dict[str, float]:
    """Rename a client's metrics so that surfaces with different primary actions share names:
    ``auc_sent/save`` of homefeed and ``auc_sent/click`` of notifications both become
    ``auc_sent/primary``, ``dr/save_per_request`` becomes ``dr/primary_per_request``. Metrics of
    other single actions are dropped (they are not comparable across clients); metrics without an
    action (ndcg_at_k, funnel_efficiency, ``…/any_action``) keep their names."""
    actions = {"save", "click", "closeup", "hide", primary}
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if "/" not in name:
            out[name] = value
            continue
        family, rest = name.split("/", 1)
        suffix = rest.removeprefix(primary)
        if family == "sim":
            if rest == "primary_per_request":
                out[name] = value
            continue
        if rest.startswith(primary) and suffix in ("", "_per_request", "_per_request_se"):
            out[f"{family}/primary{suffix}"] = value
        elif rest.split("_per_request")[0] not in actions:
            out[name] = value  # any_action and other action-free names
    return out


def _baseline(rankers: set[str]) -> str:
    return "champion" if "champion" in rankers else "visit_count"


def relative_differences(rows: pd.DataFrame, metrics: list[str], truth: str) -> pd.DataFrame:
    """One row per (day, client, contender): (contender − baseline) / |baseline| of every metric
    and of the truth, NaN where the baseline is 0 or either value is missing. The baseline is the
    champion, or visit count while there is none; contenders are every other ranker but visit
    count — the challenger, and any extra candidate evaluated on the same day's logs (e.g. the
    strategy study's arms, which make near-ties and real losses more common than the loop's own
    challengers do)."""
    out = []
    columns = [*metrics, truth]
    for (day, client), group in rows.groupby(["day", "client"], sort=True):
        by_ranker = group.set_index("ranker")
        baseline = _baseline(set(by_ranker.index))
        if baseline not in by_ranker.index:
            continue
        base = by_ranker.loc[baseline, columns].astype(float)
        for contender in by_ranker.index:
            if contender in (baseline, "visit_count"):
                continue
            value = by_ranker.loc[contender, columns].astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                diff = np.where(base != 0, (value - base) / base.abs(), np.nan)
            record = {"day": day, "client": client, "contender": contender, "baseline": baseline}
            out.append(record | dict(zip(columns, diff.tolist(), strict=True)))
    return pd.DataFrame(out, columns=["day", "client", "contender", "baseline", *columns])


def _sign_agreement(x: np.ndarray, y: np.ndarray, weighted: bool = False) -> float:
    """Share of pairs where the metric and the truth agree on who is ahead; ``weighted``:
    each pair counts by the size of the truth's difference, so agreeing on near-ties (which
    cost little either way) counts little."""
    keep = np.isfinite(x) & np.isfinite(y) & (y != 0)
    if not keep.any():
        return float("nan")
    agree = np.sign(x[keep]) == np.sign(y[keep])
    weight = np.abs(y[keep]) if weighted else np.ones(int(keep.sum()))
    return float(np.sum(weight * agree) / np.sum(weight))


def _scale(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope through the origin of the metric's relative differences on the
    truth's: 1 when a metric's "+3%" means 3% more actions, so that the promotion margin means
    what it says; 5 when it reports every gain five times as large."""
    keep = np.isfinite(x) & np.isfinite(y)
    den = float(np.sum(y[keep] ** 2))
    return float(np.sum(x[keep] * y[keep]) / den) if den > 0 else float("nan")


def _bootstrap_interval(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    draws: int,
    level: float,
) -> tuple[float, float]:
    """Percentile interval of Spearman's rho when whole (day, client) groups are resampled:
    the contenders of one day share its baseline and logs, so they are not independent."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y, groups = x[keep], y[keep], groups[keep]
    uniques, codes = np.unique(groups, return_inverse=True)
    if len(x) < 3 or len(uniques) < 2:
        return (float("nan"), float("nan"))
    members = [np.flatnonzero(codes == g) for g in range(len(uniques))]
    rhos = []
    for _ in range(draws):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(uniques), len(uniques))])
        rhos.append(spearman(x[rows], y[rows]))
    finite = np.array([r for r in rhos if np.isfinite(r)])
    if not len(finite):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def metric_truth_correlations(
    rows: pd.DataFrame,
    metrics: list[str] | None = None,
    truth: str = TRUTH,
    seed: int = 0,
    bootstrap_draws: int = 1_000,
    level: float = 0.9,
) -> pd.DataFrame:
    """For each offline metric, how well it tracks ``truth`` (see the module docstring).

    ``rows``: one row per (day, client, ranker) with columns day, client, ranker (visit_count,
    champion, challenger, and optionally more contenders), the truth and the metrics, named
    across clients alike (see ``generic_metric_names``). ``metrics`` defaults to every numeric
    column but the truth.
    Returns one row per metric: pooled, within, diff, diff_low, diff_high (bootstrap interval at
    ``level``, ``seed`` fixed), diff_sign, diff_sign_weighted, diff_scale, and the counts they
    rest on (rows, groups, pairs), sorted by ``diff`` (best first).
    """
    if metrics is None:
        metrics = [
            c
            for c in rows.columns
            if c not in (*KEYS, truth) and pd.api.types.is_numeric_dtype(rows[c])
        ]
    rng = np.random.default_rng(seed)
    diffs = relative_differences(rows, metrics, truth)
    truth_diff = diffs[truth].to_numpy(dtype=np.float64)
    diff_groups = (diffs["day"].astype(str) + "|" + diffs["client"].astype(str)).to_numpy()
    groups = list(rows.groupby(["day", "client"], sort=True))
    records = []
    for metric in metrics:
        within = [
            spearman(g[metric].to_numpy(dtype=np.float64), g[truth].to_numpy(dtype=np.float64))
            for _, g in groups
        ]
        within = [w for w in within if np.isfinite(w)]
        metric_diff = diffs[metric].to_numpy(dtype=np.float64)
        low, high = _bootstrap_interval(
            metric_diff, truth_diff, diff_groups, rng, bootstrap_draws, level
        )
        records.append(
            {
                "metric": metric,
                "pooled": spearman(rows[metric], rows[truth]),
                "within": float(np.mean(within)) if within else float("nan"),
                "diff": spearman(metric_diff, truth_diff),
                "diff_low": low,
                "diff_high": high,
                "diff_sign": _sign_agreement(metric_diff, truth_diff),
                "diff_sign_weighted": _sign_agreement(metric_diff, truth_diff, weighted=True),
                "diff_scale": _scale(metric_diff, truth_diff),
                "rows": int(np.isfinite(rows[metric].to_numpy(dtype=np.float64)).sum()),
                "groups": len(within),
                "pairs": int((np.isfinite(metric_diff) & np.isfinite(truth_diff)).sum()),
            }
        )
    table = pd.DataFrame(records)
    return table.sort_values("diff", ascending=False, na_position="last").reset_index(drop=True)
