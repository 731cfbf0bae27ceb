"""How the heavy work scales past one process: walk shards on 1 and 2 Dask workers (the
efficiency of the second is the figure, a ratio within this run), whether the part files are the
same bytes in process and on Dask, and training rows/s in process and on 2 Dask workers.

Builds its own heavy-tailed graph (benchmarks/walks.py's generator) and synthetic training window
so it does not depend on the synthetic world. Prints progress lines, then one JSON line.
``--quick`` (smaller work, about a minute) leaves the large world's figures null; without it they
are read from the reports of ``benchmarks/large_day.py`` given as ``--large`` and ``--large-dask``.

    .venv/bin/python benchmarks/scale.py --quick
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
sys.path.insert(1, str(Path(__file__).parent.parent))  # the synthetic training window
from walks import power_law_edges  # noqa: E402  (a sibling script, not a package)

FULL = {"edges": 4_000_000, "requests": 16_000, "repeats": 3, "train_requests": 20_000}
QUICK = {"edges": 500_000, "requests": 3_000, "repeats": 2, "train_requests": 2_000}


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


def walk_tasks(batch, shards, graph_dir: Path, folder: Path, threads: int | None):
    config = client_config("homefeed")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        WalkShardTask(
            s, batch.iloc[s.start : s.stop], str(graph_dir), str(folder), config, 7, threads
        )  # fmt: skip
        for s in shards
    ]


def timed_walks(runner, batch, graph_dir: Path, folder: Path, shard_size: int) -> dict:
    """Walk every shard on ``runner``; steps/s over the wall time of the map."""
    tasks = walk_tasks(batch, plan_shards(len(batch), shard_size), graph_dir, folder,
                       runner.task_threads)  # fmt: skip
    started = time.perf_counter()
    results = runner.map(walk_shard, tasks)
    seconds = time.perf_counter() - started
    steps = sum(r.stats.walk_steps for r in results)
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}


def warm_up(runner, batch, graph_dir: Path, folder: Path) -> None:
    """A small shard per worker first: numba compiles (or loads its cache) once per process,
    and each worker maps the graph."""
    shards = plan_shards(min(len(batch), 8 * runner.workers), 8)
    runner.map(walk_shard, walk_tasks(batch, shards, graph_dir, folder, runner.task_threads))


def walk_figures(batch, graph_dir: Path, root: Path, shard_size: int, repeats: int) -> dict:
    """Steps/s in process, on 1 and on 2 Dask workers. The 1- and 2-worker clusters stay up
    together and their timed maps alternate, ``repeats`` times each: both see the same
    machine, and the best of each is the figure (a noisy neighbour only ever slows a run)."""
    report: dict = {}
    with open_runner(DaskSpec()) as runner:
        warm_up(runner, batch, graph_dir, root / "warm-inprocess")
        say(f"walking {len(batch):,} requests in process")
        inprocess = timed_walks(runner, batch, graph_dir, root / "parts-inprocess", shard_size)
    say(f"  {inprocess['steps_per_s'] / 1e6:.1f}M steps/s")
    best: dict[str, float] = {"1": 0.0, "2": 0.0}
    with open_runner(DaskSpec(workers=1)) as one, open_runner(DaskSpec(workers=2)) as two:
        runners = {"1": one, "2": two}
        for name, runner in runners.items():
            warm_up(runner, batch, graph_dir, root / f"warm-{name}")
        for repeat in range(repeats):
            for name, runner in runners.items():
                run = timed_walks(runner, batch, graph_dir, root / f"parts-{name}", shard_size)
                best[name] = max(best[name], run["steps_per_s"])
                rate = run["steps_per_s"] / 1e6
                say(f"  {name} worker(s), run {repeat + 1}: {rate:.1f}M steps/s")
    report["walk_steps_per_s"] = {k: round(v) for k, v in best.items()}
    report["walk_steps_per_s_inprocess"] = round(inprocess["steps_per_s"])
    report["walk_efficiency_2"] = round(best["2"] / (2 * best["1"]), 3)
    report["walk_processes_steps_per_s"] = process_ceiling(
        batch, graph_dir, root, shard_size, repeats
    )
    ceiling = report["walk_processes_steps_per_s"]
    report["walk_processes_efficiency_2"] = round(ceiling["2"] / (2 * ceiling["1"]), 3)
    report["identical_candidates"] = same_bytes(
        root / "parts-inprocess", root / "parts-2"
    ) and same_bytes(root / "parts-1", root / "parts-2")
    return report


def process_ceiling(batch, graph_dir: Path, root: Path, shard_size: int, repeats: int) -> dict:
    """The machine's own ceiling, for comparison only: the same shards walked by 1 and by 2
    plain processes (no scheduler, no Dask), timed alternately, best of each. When 2 plain
    processes fall short of twice one, the shortfall is the memory system's, not Dask's."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    shards = plan_shards(len(batch), shard_size)
    best = {"1": 0.0, "2": 0.0}
    pools = {
        name: ProcessPoolExecutor(int(name), mp_context=get_context("forkserver")) for name in best
    }
    try:
        for name, pool in pools.items():  # compile or load numba's cache, map the graph
            warm = walk_tasks(batch, plan_shards(min(len(batch), 64), 8), graph_dir,
                              root / f"warm-processes-{name}", 1)  # fmt: skip
            list(pool.map(walk_shard, warm))
        for repeat in range(repeats):
            for name, pool in pools.items():
                tasks = walk_tasks(batch, shards, graph_dir, root / f"processes-{name}", 1)
                started = time.perf_counter()
                steps = sum(r.stats.walk_steps for r in pool.map(walk_shard, tasks))
                rate = steps / (time.perf_counter() - started)
                best[name] = max(best[name], rate)
                say(f"  {name} plain process(es), run {repeat + 1}: {rate / 1e6:.1f}M steps/s")
    finally:
        for pool in pools.values():
            pool.shutdown()
    return {k: round(v) for k, v in best.items()}


def same_bytes(a: Path, b: Path) -> bool:
    files_a = sorted(p.name for p in a.glob("part-*.parquet"))
    files_b = sorted(p.name for p in b.glob("part-*.parquet"))
    return files_a == files_b and all(
        (a / name).read_bytes() == (b / name).read_bytes() for name in files_a
    )


def train_figures(root: Path, requests_per_day: int) -> dict:
    """Rows/s of the lightweight model's training step on a synthetic 3-day window: in process
    (read the window from DuckDB, fit) and on 2 Dask workers (export it to Parquet, fit with
    ``xgboost.dask``), both with early stopping on the newest day, as ``lightweight_model``
    does."""
    from pixie_assets.serving.scoring import repo_feature_spec
    from pixie_assets.training.examples import export_examples, load_examples
    from pixie_assets.training.fit import (
        InProcessEngine,
        client_plan,
        fit_early_stopped,
        hold_back_newest_day,
    )
    from pixie_assets.training.fit_dask import train_on_dask
    from pixie_assets_tests.training.example_windows import (
        CLIENT,
        STRATEGY,
        store_window,
        window_days,
    )

    days = window_days(3)
    store_window(root / "pixie.duckdb", days, requests_per_day)
    plan = client_plan(client_config(CLIENT), STRATEGY, repo_feature_spec().feature_names)
    rows = {}
    started = time.perf_counter()
    examples = load_examples(root / "pixie.duckdb", CLIENT, days)
    fit_early_stopped(InProcessEngine(), plan, *hold_back_newest_day(examples))
    seconds = {"inprocess": time.perf_counter() - started}
    rows["inprocess"] = len(examples)
    say(f"  trained in process: {len(examples):,} rows in {seconds['inprocess']:.1f}s")
    with open_runner(DaskSpec(workers=2)) as runner:
        client = runner.client  # type: ignore[attr-defined]
        started = time.perf_counter()
        export = export_examples(
            root / "pixie.duckdb", root / "exports", CLIENT, days, plan.columns
        )
        train_on_dask(client, export, plan)
        seconds["dask_2"] = time.perf_counter() - started
        rows["dask_2"] = export.rows
    say(f"  trained on 2 Dask workers: {export.rows:,} rows in {seconds['dask_2']:.1f}s")
    return {name: round(rows[name] / seconds[name]) for name in seconds}


def large_figures(inprocess: Path | None, dask_2: Path | None) -> dict:
    """``large_day_s`` and ``large_peak_rss_gb`` from ``benchmarks/large_day.py`` reports."""
    reports = {
        name: json.loads(path.read_text())
        for name, path in (("inprocess", inprocess), ("dask_2", dask_2))
        if path is not None
    }
    return {
        "large_day_s": {
            name: {"day": r["day_wall_s"], **{a: v["wall_s"] for a, v in r["assets"].items()}}
            for name, r in reports.items()
        }
        or None,
        "large_peak_rss_gb": {name: r["peak_rss_gb"] for name, r in reports.items()} or None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller work, no large world")
    parser.add_argument("--edges", type=int, help="graph edges (4M; quick: 500k)")
    parser.add_argument("--requests", type=int, help="requests walked (16k; quick: 3k)")
    parser.add_argument("--shard", type=int, default=1_000, help="requests per shard")
    parser.add_argument("--repeats", type=int, help="timed runs per cluster size (3; quick: 2)")
    parser.add_argument("--train-requests", type=int, help="per day, 10 rows each (20k; quick: 2k)")
    parser.add_argument("--large", type=Path, help="large_day.py report, in process")
    parser.add_argument("--large-dask", type=Path, help="large_day.py report, PIXIE_DASK=local:2")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)

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
        del graph, edges
        report = walk_figures(batch, root / "graph", root, args.shard, args.repeats)
        say(f"training on {3 * 10 * args.train_requests:,} synthetic examples")
        report["train_rows_per_s"] = train_figures(root, args.train_requests)
    large = {"large_day_s": None, "large_peak_rss_gb": None}
    if not args.quick:
        large = large_figures(args.large, args.large_dask)
    print(json.dumps({**report, **large}))


if __name__ == "__main__":
    main()
