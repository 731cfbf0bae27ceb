"""``make demo``: the whole loop, through Dagster, on the configured world.

World, then for each of ``PIXIE_DEMO_DAYS`` days (default 7) in order: the day's graph, then for
every client the day × client job (candidates, serving with the current @champion, ingestion,
labels, training, evaluation and promotion). Runs go through the instance in ``$DAGSTER_HOME`` as
runs of ``workspace.yaml``'s code location, so the Dagster UI (``make ui``) shows them as it shows
runs it launched: with their job, on the Overview timeline and the Jobs page. It ends with each
client's last-day comparison of visit count and the champion, then the same figures as one JSON
line.

The terminal tells that story and nothing else: one ``[k/N]`` line per job with the time elapsed
and an estimate of the time left, the world's summary, the last day's comparison, and where to
look next. What the libraries write (Dagster's beta warnings, MLflow's registry and environment
lines, numba, XGBoost) goes to ``$PIXIE_HOME/logs/demo.log`` (``core/console.py``), and what they
write inside a step also to that run's logs in the Dagster UI.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.console import Progress, clock, library_output_to, say
from pixie_assets.core.settings import PROJECT_ROOT, Settings, ensure_dagster_home, get_settings
from pixie_assets.defs.concurrency import release_stale_slots
from pixie_assets.defs.launch import execute_in_location
from pixie_assets.defs.partitions import day_client_key

# Dagster's console logger repeats the run's event log, which the Dagster UI shows in full: only
# its warnings are worth a line (in the log file, where stderr goes during the demo).
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
LOG_FILE = Path("logs") / "demo.log"  # under $PIXIE_HOME


def run_job(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    name: str,
    *,
    progress: Progress | None = None,
    **kwargs,
):
    """Run one job here, to its end, as a run of the workspace's code location: the UI lists it
    with its job, on the Overview timeline and the Jobs page (``defs/launch.py``). Its line
    counts it in ``progress`` when the caller planned a sequence."""
    started = time.perf_counter()
    release_stale_slots(instance, log=lambda message: say(f"  {message}"))
    result = execute_in_location(instance, defs, name, run_config=QUIET_CONSOLE, **kwargs)
    label = f"{name} {kwargs.get('partition_key', '')}".strip()
    seconds = time.perf_counter() - started
    if progress is None:
        say(f"  {label}: {'ok' if result.success else 'FAILED'} in {seconds:.1f}s")
    else:
        say(progress.finished(name, label, seconds, ok=result.success))
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
    """Each client's last-day comparison, then the same figures as one JSON line (for scripts),
    on the terminal (``say``)."""
    say()
    for client, s in summary.items():
        served = "visit count" if s["champion_version"] == "none" else f"v{s['champion_version']}"
        rows = [("visit count", s["visit_count"], s["sim_actions_visit_count"])]
        rows.append((f"champion {served} (served {day})", s["champion"], s["sim_actions_champion"]))
        if s["challenger"] is not None:
            name = f"challenger v{s['challenger_version']}"
            rows.append((name, s["challenger"], s["sim_actions_challenger"]))
        with_sim = s["sim_actions_visit_count"] is not None
        width = max(32, *(len(row[0]) for row in rows))
        column = max(14, len(s["primary_metric"]))
        say(f"{client}, {day}")
        header = f"  {'':{width}} {s['primary_metric']:>{column}} {'vs visit':>8}"
        say(header + (f" {'sim. actions/req':>17} {'vs visit':>8}" if with_sim else ""))
        for i, (name, value, sim) in enumerate(rows):
            base, sim_base = (
                (None, None) if i == 0 else (s["visit_count"], s["sim_actions_visit_count"])
            )
            line = f"  {name:{width}} {value:>{column}.4f} {_versus(value, base)}"
            if with_sim:
                line += f" {sim:>17.4f} {_versus(sim, sim_base)}"
            say(line)
        after = "none" if s["champion_after"] == "none" else f"v{s['champion_after']}"
        say(f"  decision: {s['decision']} — {s['reason']}")
        say(f"  @champion is now {after}")
        say()
    keys = ("primary_metric", "visit_count", "champion", "lift", "sim_actions_visit_count",
            "sim_actions_champion", "champion_version", "challenger_version", "challenger",
            "decision", "champion_after")  # fmt: skip
    say(json.dumps({c: {k: s[k] for k in keys} for c, s in summary.items()}))


def job_plan(days: int) -> list[str]:
    """The jobs ``run_loop`` runs, in order: 1 + days × (1 + clients)."""
    return ["world_job"] + days * (["graph_job"] + len(CLIENTS) * ["daily_client_job"])


def run_loop(
    instance: dg.DagsterInstance, defs: dg.Definitions, days: int, show_world: bool = False
) -> tuple[dict[str, dict], list]:
    """The world, then ``days`` days of graph and day × client jobs in order; each client's
    last ``model_evaluation`` metadata, and every job's result."""
    settings = get_settings()
    progress = Progress(job_plan(days))
    results = [run_job(instance, defs, "world_job", progress=progress)]
    if show_world:
        say()
        say(_metadata(results[0], "world")["summary"])
        say()
    evaluations: dict[str, dict] = {}
    for offset in range(days):
        day = (settings.start_day + timedelta(days=offset)).isoformat()
        results.append(run_job(instance, defs, "graph_job", progress=progress, partition_key=day))
        for client in CLIENTS:
            key = day_client_key(day, client)
            results.append(
                run_job(instance, defs, "daily_client_job", progress=progress, partition_key=key)
            )
            evaluations[client] = _metadata(results[-1], "model_evaluation")
    return evaluations, results


def _introduce(settings: Settings, days: int) -> None:
    """What is about to run, and why the first estimates of the time left run high."""
    plural = "day" if days == 1 else "days"
    say(
        f"Pixie demo: {settings.world_scale} world (seed {settings.world_seed}), {days} {plural} "
        f"× {len(CLIENTS)} clients = {len(job_plan(days))} jobs, data in {settings.home}"
    )
    say(
        "(The first job of each kind is the slowest: it loads the libraries, numba compiles or "
        "loads its kernels, MLflow creates its tables.)"
    )


def _next_steps(settings: Settings) -> None:
    """Where to look at what the demo made: ``make ui`` on this ``PIXIE_HOME``."""
    make_ui = "make ui"
    if settings.home != (PROJECT_ROOT / "data").resolve():  # the Makefile's default
        make_ui = f"PIXIE_HOME={settings.home} make ui"
    dagster_port = os.environ.get("DAGSTER_PORT", "3000")
    mlflow_port = os.environ.get("MLFLOW_PORT", "5000")
    say(f"Next: {make_ui}")
    say(f"  Dagster UI  http://127.0.0.1:{dagster_port}  every run with its logs, the assets")
    say(f"  MLflow UI   http://127.0.0.1:{mlflow_port}  the models, their versions, @champion")


def _demo(settings: Settings, days: int) -> None:
    """The loop and its story. ``definitions`` is imported here, inside ``library_output_to``,
    because building the assets is what raises Dagster's beta warnings."""
    from pixie_assets.definitions import defs

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        evaluations, _ = run_loop(instance, defs, days, show_world=True)
    last_day = (settings.start_day + timedelta(days=days - 1)).isoformat()
    print_summary({client: client_summary(e) for client, e in evaluations.items()}, last_day)
    say()
    say(f"demo finished in {clock(time.perf_counter() - started)}")
    _next_steps(settings)


def main() -> None:
    settings = get_settings()
    days = int(os.environ.get("PIXIE_DEMO_DAYS", "7"))
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home())
    _introduce(settings, days)
    with library_output_to(settings.home / LOG_FILE) as log_path:
        try:
            _demo(settings, days)
        finally:
            say(f"Library warnings and logs: {log_path}")


if __name__ == "__main__":
    main()
