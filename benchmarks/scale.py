"""How the heavy work scales past one process: walk shards on 1 and 2 Dask workers (the
efficiency of the second is the figure, a ratio within this run), whether the part files are the
same bytes in process and on Dask, and training rows/s in process and on Dask.

Builds its own heavy-tailed graph (benchmarks/walks.py's generator) so it does not depend on the
synthetic world. Prints progress lines, then one JSON line. ``--quick`` (under 3 minutes) skips
the large world's day; without it, the large world's one-day figures are read from
``--large-report`` (written by ``benchmarks/large_day.py``) when given.

    .venv/bin/python benchmarks/scale.py --quick [--edges N] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import DaskSpec
from pixie_assets.distributed import open_runner, plan_shards
from pixie_assets.graph import graph_from_index_edges, save_graph
from pixie_assets.serving.candidates import WalkShardTask, request_batch, walk_shard

sys.path.insert(0, str(Path(__file__).parent))
from walks import power_law_edges  # noqa: E402  (a sibling script, not a package)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_requests(graph, n_requests: int, seed: int) -> pd.DataFrame:
    """Requests of 1–5 query pins drawn by degree (engaged pins are popular), as a day's
    ``request_batch``."""
    rng = np.random.default_rng(seed)
    degree = graph.pin_degree.astype(np.float64)
    sizes = rng.integers(1, 6, n_requests)
    picks = rng.choice(graph.pin_ids, sizes.sum(), p=degree / degree.sum())
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    requests = pd.DataFrame(
        {
            "request_id": [f"r{i:08d}" for i in range(n_requests)],
            "user_id": rng.integers(0, 1_000_000, n_requests),
            "ts": np.datetime64("2026-11-01"),
        }
    )
    queries = pd.DataFrame(
        {
            "request_id": requests["request_id"],
            "query_pin_ids": [picks[bounds[i] : bounds[i + 1]] for i in range(n_requests)],
        }
    )
    queries["query_weights"] = queries["query_pin_ids"].map(lambda p: np.ones(len(p)))
    return request_batch(requests, queries)


def walk_all(spec: DaskSpec, batch, graph_dir: Path, out_dir: Path, shard_size: int) -> dict:
    """Walk every shard on ``spec``'s runner after a warm-up shard per worker (numba compiles
    once per process); steps/s over the wall time of the timed map."""
    config = client_config("homefeed")
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = plan_shards(len(batch), shard_size)

    def tasks(folder: Path, chosen, threads: int | None) -> list[WalkShardTask]:
        rows = [batch.iloc[s.start : s.stop] for s in chosen]
        return [
            WalkShardTask(s, r, str(graph_dir), str(folder), config, 7, threads)
            for s, r in zip(chosen, rows, strict=True)
        ]

    (out_dir / "warm").mkdir()
    with open_runner(spec) as runner:
        # one small shard per worker first: numba compiles (or loads its cache) per process
        warm = plan_shards(min(len(batch), 8 * runner.workers), 8)
        runner.map(walk_shard, tasks(out_dir / "warm", warm, runner.task_threads))
        started = time.perf_counter()
        results = runner.map(walk_shard, tasks(out_dir, shards, runner.task_threads))
        seconds = time.perf_counter() - started
        workers = runner.workers
    steps = sum(r.stats.walk_steps for r in results)
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds, "workers": workers}


def same_bytes(a: Path, b: Path) -> bool:
    files_a = sorted(p.name for p in a.glob("part-*.parquet"))
    files_b = sorted(p.name for p in b.glob("part-*.parquet"))
    return files_a == files_b and all(
        (a / name).read_bytes() == (b / name).read_bytes() for name in files_a
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the large world")
    parser.add_argument("--edges", type=int, default=4_000_000)
    parser.add_argument("--requests", type=int, default=8_000)
    parser.add_argument("--shard", type=int, default=500, help="requests per shard")
    parser.add_argument("--large-report", type=Path, help="JSON of benchmarks/large_day.py")
    args = parser.parse_args()

    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="pixie-scale-") as scratch:
        root = Path(scratch)
        say(f"graph of ~{args.edges:,} edges")
        edges = power_law_edges(args.edges, seed=1)
        graph = graph_from_index_edges(
            edges["pin"], edges["board"], edges["n_pins"], edges["n_boards"],
            pin_ids=edges["pin_ids"], board_ids=edges["board_ids"],
        )  # fmt: skip
        save_graph(graph, root / "graph")
        batch = make_requests(graph, args.requests, seed=2)
        runs = {}
        for name, spec in (
            ("inprocess", DaskSpec()),
            ("1", DaskSpec(workers=1)),
            ("2", DaskSpec(workers=2)),
        ):
            say(f"walking {len(batch):,} requests: {name}")
            runs[name] = walk_all(spec, batch, root / "graph", root / f"parts-{name}", args.shard)
            say(f"  {runs[name]['steps_per_s'] / 1e6:.1f}M steps/s")
        report["walk_steps_per_s"] = {k: round(runs[k]["steps_per_s"]) for k in ("1", "2")}
        report["walk_steps_per_s_inprocess"] = round(runs["inprocess"]["steps_per_s"])
        report["walk_efficiency_2"] = round(
            runs["2"]["steps_per_s"] / (2 * runs["1"]["steps_per_s"]), 3
        )
        report["identical_candidates"] = same_bytes(
            root / "parts-inprocess", root / "parts-2"
        ) and same_bytes(root / "parts-1", root / "parts-2")
    report["train_rows_per_s"] = None  # filled by the training figures: see the README
    report["large_day_s"] = None
    report["large_peak_rss_gb"] = None
    if args.large_report and not args.quick:
        large = json.loads(args.large_report.read_text())
        report["large_day_s"] = large.get("day_s")
        report["large_peak_rss_gb"] = large.get("peak_rss_gb")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
