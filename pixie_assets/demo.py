"""``make demo``: the whole loop, through Dagster, on the configured world.

World, then for each of ``PIXIE_DEMO_DAYS`` days (default 7) in order: the day's graph, then for
every client the day × client job (candidates, serving with the current @champion, ingestion,
labels, training, evaluation and promotion). Runs go through the instance in ``$DAGSTER_HOME`` as
runs of ``workspace.yaml``'s code location, so the Dagster UI (``make ui``) shows them as it shows
runs it launched: with their job, on the Overview timeline and the Jobs page. It ends with each
client's last-day comparison of visit count and the champion, then the same figures as one JSON
line.
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
from pixie_assets.defs.launch import execute_in_location
from pixie_assets.defs.partitions import day_client_key

# The run's full event log is in the Dagster UI; the terminal gets warnings and the summary.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_job(instance: dg.DagsterInstance, defs: dg.Definitions, name: str, **kwargs):
    """Run one job here, to its end, as a run of the workspace's code location: the UI lists it
    with its job, on the Overview timeline and the Jobs page (``defs/launch.py``)."""
    started = time.perf_counter()
    release_stale_slots(instance, log=lambda message: print(f"  {message}"))
    result = execute_in_location(instance, defs, name, run_config=QUIET_CONSOLE, **kwargs)
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


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def client_summary(evaluation: dict) -> dict:
    """What the day's evaluation decided: visit count, the champion that served the day (visit
    count itself if none yet) and the challenger, each on the primary metric (and simulated
    actions per request in world mode), then the decision and where ``@champion`` points."""
    metric = evaluation["primary_metric"]
    visit = evaluation[f"visit_count/{metric}"]
    champion_key = "champion" if f"champion/{metric}" in evaluation else "visit_count"
    champion = evaluation[f"{champion_key}/{metric}"]
    challenger = evaluation.get(f"challenger/{metric}")
    promoted = evaluation.get("decision") == "promoted"
    served_by = evaluation.get("champion_before", "none")
    challenger_version = evaluation.get("challenger_version", "none")
    sim = {
        name: evaluation.get(f"{name}/sim_primary_per_request")
        for name in ("visit_count", champion_key, "challenger")
    }
    return {
        "primary_metric": metric,
        "visit_count": round(visit, 4),
        "champion": round(champion, 4),
        "lift": round(champion / visit - 1, 4) if visit else None,
        "sim_actions_visit_count": _rounded(sim["visit_count"]),
        "sim_actions_champion": _rounded(sim[champion_key]),
        "champion_version": served_by,
        "challenger_version": challenger_version,
        "challenger": _rounded(challenger),
        "sim_actions_challenger": _rounded(sim["challenger"]),
        "decision": evaluation.get("decision", "kept"),
        "reason": evaluation.get("reason", ""),
        "champion_after": challenger_version if promoted else served_by,
    }


def _versus(value: float | None, base: float | None) -> str:
    return f"{value / base - 1:>+8.1%}" if value is not None and base else " " * 8


def print_summary(summary: dict[str, dict], day: str) -> None:
    print()
    for client, s in summary.items():
        served = "visit count" if s["champion_version"] == "none" else f"v{s['champion_version']}"
        rows = [("visit count", s["visit_count"], s["sim_actions_visit_count"])]
        rows.append((f"champion {served} (served {day})", s["champion"], s["sim_actions_champion"]))
        if s["challenger"] is not None:
            name = f"challenger v{s['challenger_version']}"
            rows.append((name, s["challenger"], s["sim_actions_challenger"]))
        with_sim = s["sim_actions_visit_count"] is not None
        print(f"{client}, {day}")
        header = f"  {'':32} {s['primary_metric']:>14} {'vs visit':>8}"
        print(header + (f" {'sim. actions/req':>17} {'vs visit':>8}" if with_sim else ""))
        for i, (name, value, sim) in enumerate(rows):
            base, sim_base = (
                (None, None) if i == 0 else (s["visit_count"], s["sim_actions_visit_count"])
            )
            line = f"  {name:32} {value:>14.4f} {_versus(value, base)}"
            if with_sim:
                line += f" {sim:>17.4f} {_versus(sim, sim_base)}"
            print(line)
        after = "none" if s["champion_after"] == "none" else f"v{s['champion_after']}"
        print(f"  decision: {s['decision']} — {s['reason']}")
        print(f"  @champion is now {after}")
        print()
    keys = ("primary_metric", "visit_count", "champion", "lift", "sim_actions_visit_count",
            "sim_actions_champion", "champion_version", "challenger_version", "challenger",
            "decision", "champion_after")  # fmt: skip
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
    last_day = (settings.start_day + timedelta(days=days - 1)).isoformat()
    print_summary({client: client_summary(e) for client, e in evaluations.items()}, last_day)
    print(f"demo finished in {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
