"""Peak memory of ``serving_logs`` against its shard size and the day's traffic (#14).

The demo world's first homefeed day is walked once; its candidates are then cut into part files
of N requests (one shard each, as ``walk_candidates`` writes them) and ``serving_logs`` serves
them in a fresh process per configuration, in process (``PIXIE_DASK`` empty). Peak memory is the
process's high-water mark (VmHWM, reset after start-up through /proc/self/clear_refs, so Linux
only) minus its resident size before the run: imports and Dagster do not count.

Configurations: the whole day in one shard (the memory profile of serving before shards), shards
of N requests, and shards of N requests of only the first half of the day's requests. Bounded
batches mean the second and third peaks are alike (the shard decides, not the traffic) and below
the first. The last line printed is JSON.

    .venv/bin/python benchmarks/serving_memory.py [--scale demo] [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

DAY = "2026-11-01"
CLIENT = "homefeed"


def _settings(home: str, scale: str):
    from pixie_assets.defs.resources import PixieSettings

    return PixieSettings(home=home, world_scale=scale, world_seed=7, start_day=DAY)


def _materialize(home: str, scale: str, selection: list[str], partition: str | None = None):
    import dagster as dg

    from pixie_assets.definitions import defs

    result = dg.materialize(
        list(defs.assets),
        selection=selection,
        partition_key=partition,
        resources={"pixie": _settings(home, scale)},
    )
    assert result.success
    return result


def _partition() -> str:
    from pixie_assets.defs.partitions import day_client_key

    return day_client_key(DAY, CLIENT)


def setup(home: str, scale: str) -> None:
    """World, the day's graph and the day's homefeed candidates."""
    _materialize(home, scale, ["world"])
    _materialize(home, scale, ["pin_board_graph"], DAY)
    _materialize(home, scale, ["walk_candidates"], _partition())


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(key))
    return int(line.split()[1]) / 1024


def serve(home: str, scale: str) -> None:
    """One ``serving_logs`` run; prints its peak memory above the resident size before it."""
    import pixie_assets.definitions  # noqa: F401  (imports are not the run's memory)

    _partition()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current resident size
    before = _status_mb("VmRSS:")
    started = time.perf_counter()
    result = _materialize(home, scale, ["serving_logs"], _partition())
    seconds = time.perf_counter() - started
    meta = result.asset_materializations_for_node("serving_logs")[0].metadata
    print(
        json.dumps(
            {
                "peak_mb": round(_status_mb("VmHWM:") - before, 1),
                "seconds": round(seconds, 2),
                "shards": meta["shards"].value,
                "serving_log_rows": meta["rows/serving_log"].value,
            }
        )
    )


def cut_candidates(source: Path, target: Path, requests_per_part: int, share: float) -> int:
    """Rewrite ``target``'s candidate parts from all of the day's candidates in ``source``:
    parts of ``requests_per_part`` requests (in request order) of the first ``share`` of the
    requests. Returns the number of requests kept."""
    from pixie_assets.core.files import write_parquet
    from pixie_assets.serving.candidates import candidate_parts, read_candidates

    candidates = read_candidates(source)
    position, uniques = pd.factorize(candidates["request_id"], sort=False)
    kept = int(len(uniques) * share)
    for part in candidate_parts(target):
        part.unlink()
    for index, start in enumerate(range(0, kept, requests_per_part)):
        rows = candidates[(position >= start) & (position < min(start + requests_per_part, kept))]
        table = pa.Table.from_pandas(rows, preserve_index=False)
        write_parquet(table, target / f"part-{index:05d}.parquet")
    return kept


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--requests", type=int, default=500, help="requests per small shard")
    parser.add_argument("--setup", metavar="HOME", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="HOME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        return setup(args.setup, args.scale)
    if args.serve:
        return serve(args.serve, args.scale)

    from pixie_assets.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="pixie-serving-memory-") as home:
        _run("--setup", home, "--scale", args.scale)
        folder = Settings(home=Path(home)).candidates_partition_dir(DAY, CLIENT)
        source = Path(home) / "all-candidates"
        shutil.copytree(folder, source)
        configurations = {
            "whole_day": (10**9, 1.0),
            "shards": (args.requests, 1.0),
            "shards_half_traffic": (args.requests, 0.5),
        }
        figures = {}
        for name, (size, share) in configurations.items():
            requests = cut_candidates(source, folder, size, share)
            figures[name] = {
                "requests": requests,
                **json.loads(_run("--serve", home, "--scale", args.scale)),
            }
            print(name, figures[name], flush=True)
    whole, shards, half = (figures[n]["peak_mb"] for n in configurations)
    print(
        json.dumps(
            {
                "scale": args.scale,
                "requests_per_shard": args.requests,
                **{f"{name}_peak_mb": f["peak_mb"] for name, f in figures.items()},
                "shards_vs_whole_day": round(shards / whole, 2),
                "half_traffic_vs_full": round(half / shards, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
