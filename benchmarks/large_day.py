"""One day of the loop on a world scale, measured per asset: wall time, peak resident memory of
the process tree (Dask workers included), the work done and its throughput.

Runs what ``make demo`` runs for one day (world, the day's graph, then every client's day ×
client job) in a fresh ``--home``, with ``PIXIE_DASK`` set from ``--dask``. Memory is sampled
every 0.2 s over this process and its children (the Dask workers) and attributed to the step
running at the time; steps come from the runs' Dagster event logs, work from each
materialization's metadata (walk steps for ``walk_candidates``, ``dagster/row_count`` for the
rest). Prints a line per step, then one JSON line; ``--out`` also writes the JSON.

    .venv/bin/python benchmarks/large_day.py --scale large [--dask local:2] --out large.json

RSS sums each process's resident pages, so pages the Dask workers share (the memory-mapped
graph) count once per worker: the figure is an upper bound of what the tree needs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.2


class TreeMemory(threading.Thread):
    """Samples the resident memory of this process and all its descendants."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stop_event.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # ended between listing and reading
                    total += process.memory_info().rss
            self.samples.append((time.time(), total))
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside, default=0)


def _work(metadata: dict) -> tuple[str, int | None]:
    """What an asset's throughput is counted in."""
    for key, unit in (("walk_steps", "walk steps"), ("dagster/row_count", "rows")):
        if key in metadata and metadata[key] is not None:
            return unit, int(metadata[key])
    return "rows", None


def step_rows(instance, run_id: str, partition: str, memory: TreeMemory) -> list[dict]:
    """Wall time, peak memory and work of each step of a run that materialized an asset."""
    import dagster as dg

    starts: dict[str, float] = {}
    rows: dict[str, dict] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            unit, work = _work(metadata)
            rows[entry.step_key] = {
                "asset": materialization.asset_key.to_user_string(),
                "partition": partition,
                "unit": unit,
                "work": work,
            }
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and entry.step_key in rows:
            start = starts[entry.step_key]
            row = rows[entry.step_key]
            row["wall_s"] = round(entry.timestamp - start, 2)
            row["peak_rss_gb"] = round(memory.peak(start, entry.timestamp) / 2**30, 2)
            work, wall = row["work"], row["wall_s"]
            row["per_s"] = round(work / wall) if work and wall else None
    return [row for row in rows.values() if "wall_s" in row]


def by_asset(rows: list[dict]) -> dict[str, dict]:
    """Each asset over the day's partitions: wall time and work summed, memory at its peak."""
    assets: dict[str, dict] = {}
    for row in rows:
        total = assets.setdefault(
            row["asset"], {"wall_s": 0.0, "peak_rss_gb": 0.0, "unit": row["unit"], "work": 0}
        )
        total["wall_s"] = round(total["wall_s"] + row["wall_s"], 2)
        total["peak_rss_gb"] = max(total["peak_rss_gb"], row["peak_rss_gb"])
        total["work"] += row["work"] or 0
    for total in assets.values():
        total["per_s"] = round(total["work"] / total["wall_s"]) if total["wall_s"] else None
    return assets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="large", choices=("tiny", "demo", "large"))
    parser.add_argument("--dask", default="", help="PIXIE_DASK: '', local:N or tcp://host:port")
    parser.add_argument("--home", type=Path, help="a fresh PIXIE_HOME (default: a new folder)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    home = args.home or Path(
        f"/tmp/pixie-day-{args.scale}-{(args.dask or 'inprocess').replace(':', '')}-{os.getpid()}"
    )
    if home.exists() and any(home.iterdir()):
        sys.exit(f"large_day: {home} is not empty; give a fresh --home")
    os.environ.update(
        {"PIXIE_HOME": str(home), "PIXIE_WORLD_SCALE": args.scale, "PIXIE_DASK": args.dask}
    )
    from pixie_assets.core.settings import ensure_dagster_home

    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home())
    import dagster as dg

    from pixie_assets.definitions import defs
    from pixie_assets.demo import run_loop

    print(f"one day of the {args.scale} world, PIXIE_DASK={args.dask!r}, in {home}", flush=True)
    memory = TreeMemory()
    memory.start()
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        _, results = run_loop(instance, defs, days=1)
        day_seconds = time.perf_counter() - started
        memory.stop()
        rows = []
        for result in results:
            run = instance.get_run_by_id(result.run_id)
            partition = (run.tags.get("dagster/partition") if run else None) or "-"
            rows += step_rows(instance, result.run_id, partition, memory)
    for row in rows:
        print(
            f"  {row['asset']:24} {row['partition']:24} {row['wall_s']:>8.1f} s "
            f"{row['peak_rss_gb']:>6.2f} GB  {row['work'] or 0:>14,} {row['unit']}",
            flush=True,
        )
    report = {
        "scale": args.scale,
        "dask": args.dask,
        "day_wall_s": round(day_seconds, 1),
        "peak_rss_gb": round(max((rss for _, rss in memory.samples), default=0) / 2**30, 2),
        "assets": by_asset(rows),
        "steps": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
