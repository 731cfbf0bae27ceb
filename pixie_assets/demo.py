"""``make demo``: the whole loop, through Dagster, on the configured world.

World, then for each of ``PIXIE_DEMO_DAYS`` days (default 7) in order: the day's graph, then for
every client the day × client job (candidates, serving with the current @champion, ingestion,
labels, training, evaluation and promotion). Runs go through the instance in ``$DAGSTER_HOME`` so
they appear in the Dagster UI's run history (``make ui``). It ends with each client's last-day
comparison of visit count and the champion, then the same figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

import dagster as dg

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.settings import ensure_dagster_home, get_settings
from pixie_assets.defs.concurrency import release_stale_slots
from pixie_assets.defs.partitions import day_client_key

# The run's full event log is in the Dagster UI; the terminal gets warnings and the summary.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(instance: dg.DagsterInstance, defs: dg.Definitions, name: str, **kwargs):
    started = time.perf_counter()
    release_stale_slots(instance, log=lambda message: print(f"  {message}"))
    result = defs.resolve_job_def(name).execute_in_process(
        instance=instance, run_config=QUIET_CONSOLE, raise_on_error=False, **kwargs
    )
    label = f"{name} {kwargs.get('partition_key', '')}".strip()
    print(
        f"  {label}: {'ok' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s"
    )
    if not result.success:
        sys.exit(f"demo: job {label} failed; see run {result.run_id} in the Dagster UI (make ui)")
    return result


def _metadata(result, asset: str) -> dict:
    materialization = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def client_summary(evaluation: dict) -> dict:
    """visit count vs the champion that served the day (visit count itself if none yet)."""
    metric = evaluation["primary_metric"]
    visit = evaluation[f"visit_count/{metric}"]
    champion_key = "champion" if f"champion/{metric}" in evaluation else "visit_count"
    champion = evaluation[f"{champion_key}/{metric}"]
    sim_visit = evaluation.get("visit_count/sim_primary_per_request")
    sim_champion = evaluation.get(f"{champion_key}/sim_primary_per_request")
    return {
        "primary_metric": metric,
        "visit_count": round(visit, 4),
        "champion": round(champion, 4),
        "lift": round(champion / visit - 1, 4) if visit else None,
        "sim_actions_visit_count": None if sim_visit is None else round(sim_visit, 4),
        "sim_actions_champion": None if sim_champion is None else round(sim_champion, 4),
        "champion_version": evaluation.get("champion_before", "none"),
    }


def print_summary(summary: dict[str, dict]) -> None:
    print()
    for client, s in summary.items():
        sim_lift = (
            s["sim_actions_champion"] / s["sim_actions_visit_count"] - 1
            if s["sim_actions_visit_count"]
            else float("nan")
        )
        print(f"{client} (champion: {s['champion_version']})")
        print(f"  {'':34} {'visit count':>12} {'champion':>12} {'lift':>8}")
        print(
            f"  {s['primary_metric']:34} {s['visit_count']:>12.4f} {s['champion']:>12.4f} "
            f"{s['lift']:>+8.1%}"
        )
        if s["sim_actions_visit_count"] is not None:
            print(
                f"  {'simulated actions per request':34} {s['sim_actions_visit_count']:>12.4f} "
                f"{s['sim_actions_champion']:>12.4f} {sim_lift:>+8.1%}"
            )
    print()
    keys = ("primary_metric", "visit_count", "champion", "lift", "sim_actions_visit_count",
            "sim_actions_champion")  # fmt: skip
    print(json.dumps({c: {k: s[k] for k in keys} for c, s in summary.items()}))


def run_loop(
    instance: dg.DagsterInstance, defs: dg.Definitions, days: int, show_world: bool = False
) -> tuple[dict[str, dict], list]:
    """The world, then ``days`` days of graph and day × client jobs in order; each client's
    last ``model_evaluation`` metadata, and every job's result."""
    settings = get_settings()
    results = [run_job(instance, defs, "world_job")]
    if show_world:
        print()
        print(_metadata(results[0], "world")["summary"])
        print()
    evaluations: dict[str, dict] = {}
    for offset in range(days):
        day = (settings.start_day + timedelta(days=offset)).isoformat()
        results.append(run_job(instance, defs, "graph_job", partition_key=day))
        for client in CLIENTS:
            key = day_client_key(day, client)
            results.append(run_job(instance, defs, "daily_client_job", partition_key=key))
            evaluations[client] = _metadata(results[-1], "model_evaluation")
    return evaluations, results


def main() -> None:
    settings = get_settings()
    days = int(os.environ.get("PIXIE_DEMO_DAYS", "7"))
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home())
    from pixie_assets.definitions import defs

    print(
        f"Pixie demo: {settings.world_scale} world (seed {settings.world_seed}), {days} days × "
        f"{len(CLIENTS)} clients, data in {settings.home}"
    )
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        evaluations, _ = run_loop(instance, defs, days, show_world=True)
    print_summary({client: client_summary(e) for client, e in evaluations.items()})
    print(f"demo finished in {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
