"""Which offline metric tracks the simulated truth? Runs the loop (world, then per day the graph
and every client's day × client chain, as ``make demo`` does) on a small world in a private
PIXIE_HOME, collects every ``model_evaluation`` comparison (visit count, champion, challenger per
day × client, from MLflow), and reports per offline metric the Spearman correlation with
``sim/primary_per_request`` over all rows, among the rankers of a day, and of the challenger's
relative difference to its baseline — the one promotion decides on. Also the training runs'
``best_iteration`` (did early stopping trigger?).

    python benchmarks/offline_metrics.py [--scale tiny] [--days 6] [--seed 7 [8 …]] [--study]
                                         [--rows-out F]

Prints progress and a table, then one JSON line: {"metrics": {name: {pooled, within, diff,
diff_low, diff_high, diff_sign, diff_sign_weighted, diff_scale, pairs}}, "best_iteration":
{seed: {client: [one per day]}}, ...}. Several seeds run one loop (world) each and pool their
rows.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import pandas as pd

START_DAY = "2026-11-01"


# The runs' event logs would drown the figures: the terminal gets warnings only.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _metadata(result, asset: str) -> dict:
    materialization = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def run_loop(
    home: Path, scale: str, seed: int, days: int, study: bool = False
) -> dict[str, list[float]]:
    """The loop in process; returns each client's best_iteration per training day. ``study``:
    also the strategy study of every day after the first (more contenders per day)."""
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from pixie_assets.core.clients import CLIENTS
    from pixie_assets.definitions import defs
    from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
    from pixie_assets.defs.partitions import day_client_key
    from pixie_assets.defs.resources import PixieSettings

    settings = PixieSettings(
        home=str(home), world_scale=scale, world_seed=seed, start_day=START_DAY
    )
    assets = list(defs.assets)

    def materialize(selection, partition_key=None):
        started = time.perf_counter()
        result = dg.materialize(
            assets,
            selection=list(selection),
            partition_key=partition_key,
            resources={"pixie": settings},
            run_config=QUIET_CONSOLE,
            raise_on_error=True,
        )
        print(f"  {partition_key or 'world'}: {time.perf_counter() - started:.1f}s", flush=True)
        return result

    best: dict[str, list[float]] = {c: [] for c in CLIENTS}
    materialize(["world"])
    for offset in range(days):
        day = (date.fromisoformat(START_DAY) + timedelta(days=offset)).isoformat()
        materialize(["pin_board_graph"], day)
        for client in CLIENTS:
            result = materialize(DAY_CLIENT_ASSETS, day_client_key(day, client))
            best[client].append(float(_metadata(result, "lightweight_model")["best_iteration"]))
            if study and offset > 0:
                materialize(["strategy_study"], day_client_key(day, client))
    return best


# Study arms that are not contenders of their own: visit count is in the evaluation already, and
# the funnel_blended arm is the challenger itself (same strategy, days and parameters).
STUDY_SKIP = ("visit_count", "funnel_blended")


def evaluation_rows(home: Path) -> pd.DataFrame:
    """Every model_evaluation comparison of the run, one row per (day, client, ranker), with the
    client's metrics renamed to names shared across clients (``…/primary``); strategy-study arms
    of the same day and logs, if any, as rankers ``arm:<name>``."""
    import mlflow

    from pixie_assets.core.clients import client_config
    from pixie_assets.core.settings import Settings
    from pixie_assets.training.evaluation import primary_name
    from pixie_assets.training.metric_validity import generic_metric_names
    from pixie_assets.training.tracking import (
        EVALUATION_EXPERIMENT,
        STUDY_EXPERIMENT,
        configure_mlflow,
    )

    configure_mlflow(Settings(home=home))
    rows = []
    for name, prefix in ((EVALUATION_EXPERIMENT, ""), (STUDY_EXPERIMENT, "arm:")):
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            continue
        runs = mlflow.search_runs([experiment.experiment_id])
        if "tags.client" not in runs:
            continue
        for _, run in runs.dropna(subset=["tags.client"]).iterrows():  # study: parents only
            client, day = run["tags.client"], run["tags.day"]
            text = mlflow.artifacts.load_text(f"{run['artifact_uri']}/comparison.csv")
            frame = pd.read_csv(StringIO(text), index_col=0).drop(columns="version")
            primary = primary_name(client_config(client))
            for ranker, values in frame.iterrows():
                if prefix and ranker in STUDY_SKIP:
                    continue
                metrics = generic_metric_names(values.astype(float).to_dict(), primary)
                rows.append({"day": day, "client": client, "ranker": prefix + ranker, **metrics})
    return pd.DataFrame(rows).sort_values(["day", "client", "ranker"]).reset_index(drop=True)


def study_metrics(rows: pd.DataFrame) -> list[str]:
    """The offline metrics to judge: every shared-name metric but the truth, the simulation's
    other figures, standard errors and the off-policy diagnostics."""
    skip = ("sim/", "ope/", "_se/")
    return [
        c
        for c in rows.columns
        if c not in ("day", "client", "ranker") and not any(s in c for s in skip)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="tiny", choices=("tiny", "demo"))
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument(
        "--seed", type=int, nargs="+", default=[7], help="world seed(s); one loop per seed"
    )
    parser.add_argument(
        "--study",
        action="store_true",
        help="also run the strategy study each day: its arms are more contenders (slower)",
    )
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--rows-out", type=Path, default=None, help="write the rows as CSV")
    args = parser.parse_args()

    base = args.home or Path(tempfile.mkdtemp(prefix="pixie_offline_metrics_"))
    from pixie_assets.training.metric_validity import TRUTH, metric_truth_correlations

    started = time.perf_counter()
    all_rows, best = [], {}
    for seed in args.seed:
        home = base / f"seed={seed}"
        home.mkdir(parents=True, exist_ok=True)
        _use_home(home, args.scale, seed)
        print(f"offline metrics: {args.scale} world (seed {seed}), {args.days} days, in {home}")
        best[seed] = run_loop(home, args.scale, seed, args.days, args.study)
        rows = evaluation_rows(home)
        # a (day, client) group is one loop's day: keep worlds apart
        all_rows.append(rows.assign(day=f"{seed}:" + rows["day"].astype(str)))
    rows = pd.concat(all_rows, ignore_index=True)
    if args.rows_out:
        rows.to_csv(args.rows_out, index=False)
    table = metric_truth_correlations(rows, study_metrics(rows), TRUTH, seed=args.seed[0])
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(table.round(3).to_string(index=False))
    seconds = time.perf_counter() - started
    print(json.dumps(
        {
            "scale": args.scale,
            "days": args.days,
            "seeds": args.seed,
            "study": args.study,
            "truth": TRUTH,
            "rows": len(rows),
            "seconds": round(seconds),
            "metrics": {
                r["metric"]: {
                    k: (None if pd.isna(r[k]) else round(float(r[k]), 3))
                    for k in (
                        "pooled", "within", "diff", "diff_low", "diff_high", "diff_sign",
                        "diff_sign_weighted", "diff_scale",
                    )
                }
                | {"pairs": int(r["pairs"])}
                for _, r in table.iterrows()
            },
            "best_iteration": best,
        }
    ))  # fmt: skip


def _use_home(home: Path, scale: str, seed: int) -> None:
    """Point the process's settings (and the Dagster instance) at this loop's folder."""
    from pixie_assets.core.settings import ensure_dagster_home

    os.environ.update(
        {
            "PIXIE_HOME": str(home),
            "PIXIE_WORLD_SCALE": scale,
            "PIXIE_WORLD_SEED": str(seed),
            "PIXIE_START_DAY": START_DAY,
            "DAGSTER_HOME": str(home / "dagster_home"),
        }
    )
    ensure_dagster_home()


if __name__ == "__main__":
    main()
