"""Walk-engine benchmark: CSR build time, steps/s against a one-walker reference, query latency.

Builds a heavy-tailed pin–board graph with its own seeded generator (Pareto pin and board
degrees, configuration-model pairing), so it does not depend on the synthetic world. Prints
progress lines, then one final JSON line. Default ~10M edges; ``--large`` ~100M.

    .venv/bin/python benchmarks/walks.py [--large] [--edges N] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from numba import njit

from pixie_assets.graph import (
    PruneConfig,
    WalkParams,
    WalkRequest,
    allocate_steps,
    build_pin_board_graph,
    graph_from_index_edges,
    load_graph,
    pixie_batch,
    pixie_query,
    save_graph,
)
from pixie_assets.graph.walks import _GOLDEN, _LOW32, _U32, _below, _mix64, _threshold, derive_seed

LOCALES = ("de-DE", "en-US", "es-ES", "fr-FR", "ja-JP", "pt-BR")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def power_law_edges(n_edges: int, seed: int) -> dict[str, np.ndarray]:
    """Pin degrees ~ Pareto(1.8) (mean ~9), board degrees ~ Pareto(1.5) (mean ~60), stubs paired
    at random; ids are sparse ascending int64s, locales skewed. Duplicate pairs are left in."""
    rng = np.random.default_rng(seed)
    n_pins, n_boards = n_edges // 9, n_edges // 60

    def degrees(n: int, shape: float, cap: int) -> np.ndarray:
        w = np.minimum(rng.pareto(shape, n) + 1.0, cap)
        d = np.maximum(1, np.round(w * (n_edges * 1.02 / w.sum()))).astype(np.int64)
        return d

    pin_deg = degrees(n_pins, 1.8, 50_000)
    board_deg = degrees(n_boards, 1.5, 200_000)
    pins = np.repeat(np.arange(n_pins, dtype=np.int32), pin_deg)[:n_edges]
    boards = np.repeat(np.arange(n_boards, dtype=np.int32), board_deg)
    boards = rng.permutation(boards)[: len(pins)]
    pins = pins[: len(boards)]
    return {
        "pin": pins,
        "board": boards,
        "n_pins": n_pins,
        "n_boards": n_boards,
        "pin_ids": 7_000_000_000 + np.cumsum(rng.integers(1, 20, n_pins)),
        "board_ids": 9_000_000_000_000 + np.cumsum(rng.integers(1, 8, n_boards)),
        "pin_locale": rng.choice(len(LOCALES), n_pins, p=[0.1, 0.55, 0.05, 0.08, 0.07, 0.15]),
    }


@njit(cache=True, nogil=True)
def one_walker_steps(
    pin_indptr, pin_boards, board_indptr, board_pins, q_idx, q_steps, q_stream, restart_thr
):
    """The straightforward reference: one walker per query pin, one step after another (same
    step definition, RNG, visit counting and touched-list reset as the engine; no top-k)."""
    counts = np.zeros(len(pin_indptr) - 1, dtype=np.int32)
    touched = np.empty(max(1, q_steps.max()), dtype=np.int32)
    total = 0
    checksum = 0
    for j in range(len(q_idx)):
        q = q_idx[j]
        cur = q
        ctr = q_stream[j]
        nt = 0
        for _ in range(q_steps[j]):
            ctr += _GOLDEN
            r = _mix64(ctr)
            s = pin_indptr[cur]
            b = pin_boards[s + _below(r >> _U32, pin_indptr[cur + 1] - s)]
            ctr += _GOLDEN
            r2 = _mix64(ctr)
            s = board_indptr[b]
            p = board_pins[s + _below(r2 >> _U32, board_indptr[b + 1] - s)]
            c = counts[p] + 1
            counts[p] = c
            if c == 1:
                touched[nt] = p
                nt += 1
            cur = q if (r & _LOW32) < restart_thr else p
        for i in range(nt):
            checksum += counts[touched[i]]
            counts[touched[i]] = 0
        total += q_steps[j]
    return total, checksum


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--large", action="store_true", help="about 100M edges")
    ap.add_argument("--edges", type=int, default=None, help="override the edge count")
    ap.add_argument("--requests", type=int, default=300, help="3-pin requests for steps/s")
    ap.add_argument("--latency-queries", type=int, default=300)
    ap.add_argument("--steps", type=int, default=100_000, help="steps per request")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-table-build", action="store_true", help="skip build_pin_board_graph")
    ap.add_argument("--tmp-dir", default=None, help="where the mmap copy of the graph goes")
    args = ap.parse_args()
    n_edges = args.edges or (100_000_000 if args.large else 10_000_000)

    say("warming up numba (compile or load cache) on a tiny graph")
    tiny = power_law_edges(20_000, 0)
    g0 = graph_from_index_edges(tiny["pin"], tiny["board"], tiny["n_pins"], tiny["n_boards"])
    pixie_batch(g0, [WalkRequest([0, 1], [1.0, 1.0])], WalkParams(n_steps=1000), n_threads=1)
    pixie_query(g0, np.array([0]), None, WalkParams(n_steps=1000))
    one_walker_steps(
        g0.pin_indptr, g0.pin_boards, g0.board_indptr, g0.board_pins,
        np.array([0], np.int32), np.array([10], np.int64), np.array([1], np.uint64), np.uint64(1),
    )  # fmt: skip
    time_table_build(tiny, 0, quiet=True)

    say(f"generating a power-law graph of ~{n_edges:,} edges")
    t = time.perf_counter()
    e = power_law_edges(n_edges, args.seed)
    say(f"generated {len(e['pin']):,} edge rows in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    graph = graph_from_index_edges(
        e["pin"], e["board"], e["n_pins"], e["n_boards"],
        e["pin_ids"], e["board_ids"], e["pin_locale"], LOCALES,
    )  # fmt: skip
    csr_build_s = time.perf_counter() - t
    say(
        f"CSR built in {csr_build_s:.2f}s: {graph.n_pins:,} pins, {graph.n_boards:,} boards, "
        f"{graph.n_edges:,} edges, max pin degree {graph.pin_degree.max():,}"
    )

    table_build_s = None
    if not args.no_table_build:
        table_build_s = time_table_build(e, args.seed)
    del e

    rng = np.random.default_rng(args.seed + 1)
    # query pins ~ degree (an engaged pin is usually a saved one): the pin of a random edge
    edge = rng.integers(0, graph.n_edges, size=(args.requests, 3))
    pin_of_edge = np.searchsorted(graph.pin_indptr, edge, side="right") - 1
    q_ids = graph.pin_ids[pin_of_edge]
    q_w = rng.uniform(0.5, 2.0, size=q_ids.shape)
    requests = [WalkRequest(q_ids[i], q_w[i]) for i in range(args.requests)]
    full = WalkParams(n_steps=args.steps, early_stop=False, top_k=1000, seed=args.seed)

    say(f"engine: {args.requests} requests x {args.steps:,} steps on 1 thread")
    t = time.perf_counter()
    res = pixie_batch(graph, requests, full, n_threads=1)
    engine_s = time.perf_counter() - t
    engine_steps = res.attrs["total_steps"]
    engine_sps = engine_steps / engine_s
    say(f"engine: {engine_steps:,} steps in {engine_s:.2f}s = {engine_sps / 1e6:.2f}M steps/s")

    # reference: same query pins, same per-pin step allocation, one walker each
    pin_degree = graph.pin_degree
    steps = np.concatenate(
        [
            allocate_steps(pin_degree[pin_of_edge[i]], q_w[i], args.steps, graph.max_log_degree)
            for i in range(args.requests)
        ]
    )
    q_idx = pin_of_edge.reshape(-1).astype(np.int32)
    streams = np.array(
        [derive_seed(np.uint64(args.seed), i // 3, i % 3) for i in range(len(q_idx))], np.uint64
    )
    numba.set_num_threads(1)
    t = time.perf_counter()
    ref_steps, _ = one_walker_steps(
        graph.pin_indptr, graph.pin_boards, graph.board_indptr, graph.board_pins,
        q_idx, steps, streams, _threshold(full.alpha),
    )  # fmt: skip
    ref_s = time.perf_counter() - t
    ref_sps = ref_steps / ref_s
    say(f"one walker: {ref_steps:,} steps in {ref_s:.2f}s = {ref_sps / 1e6:.2f}M steps/s")

    say("all cores: same requests")
    t = time.perf_counter()
    res_mt = pixie_batch(graph, requests, full, n_threads=numba.config.NUMBA_NUM_THREADS)
    mt_sps = res_mt.attrs["total_steps"] / (time.perf_counter() - t)
    same = res_mt.equals(res)
    say(f"all cores: {mt_sps / 1e6:.2f}M steps/s; identical to 1 thread: {same}")

    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as tmp:
        save_graph(graph, Path(tmp) / "graph")
        mapped = load_graph(Path(tmp) / "graph", mmap=True)
        pixie_batch(mapped, requests[:5], full, n_threads=1)  # fault the hot pages in
        t = time.perf_counter()
        res_map = pixie_batch(mapped, requests, full, n_threads=1)
        mmap_sps = res_map.attrs["total_steps"] / (time.perf_counter() - t)
        say(
            f"mmap-loaded graph, 1 thread: {mmap_sps / 1e6:.2f}M steps/s; "
            f"identical: {res_map.equals(res)}"
        )
        del mapped, res_map

    latency_full, latency_early, early_steps = [], [], []
    early = WalkParams(n_steps=args.steps, seed=args.seed)
    numba.set_num_threads(1)
    for i in range(args.latency_queries):
        r = requests[i % len(requests)]
        t = time.perf_counter()
        pixie_query(graph, np.asarray(r.pin_ids), np.asarray(r.weights), full)
        latency_full.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = pixie_query(graph, np.asarray(r.pin_ids), np.asarray(r.weights), early)
        latency_early.append(time.perf_counter() - t)
        early_steps.append(out.attrs["steps"])
    lat = np.array(latency_full) * 1e3
    lat_e = np.array(latency_early) * 1e3
    say(f"latency (1 core, {args.steps:,} steps, 3 pins): p50 {np.median(lat):.2f} ms")

    result = {
        "edges": graph.n_edges,
        "pins": graph.n_pins,
        "boards": graph.n_boards,
        "csr_build_s": round(csr_build_s, 3),
        "table_build_s": None if table_build_s is None else round(table_build_s, 3),
        "engine_steps_per_s": round(engine_sps),
        "one_walker_steps_per_s": round(ref_sps),
        "ratio": round(engine_sps / ref_sps, 2),
        "all_cores_steps_per_s": round(mt_sps),
        "mmap_engine_steps_per_s": round(mmap_sps),
        "threads": numba.config.NUMBA_NUM_THREADS,
        "query_ms_p50": round(float(np.percentile(lat, 50)), 3),
        "query_ms_p99": round(float(np.percentile(lat, 99)), 3),
        "early_stop_query_ms_p50": round(float(np.percentile(lat_e, 50)), 3),
        "early_stop_query_ms_p99": round(float(np.percentile(lat_e, 99)), 3),
        "early_stop_mean_steps": round(float(np.mean(early_steps))),
        "graph_bytes": graph.nbytes(),
        "csr_bytes": graph.csr_nbytes(),
        "memory_ratio": round(graph.nbytes() / graph.csr_nbytes(), 3),
        "steps_per_request": args.steps,
        "requests": args.requests,
    }
    print(json.dumps(result), flush=True)


def time_table_build(e: dict[str, np.ndarray], seed: int, quiet: bool = False) -> float:
    """The full build from contract-shaped tables (ids, timestamps, topics, pruning)."""
    rng = np.random.default_rng(seed + 2)
    n = len(e["pin"])
    saves = pd.DataFrame(
        {
            "user_id": np.zeros(n, np.int64),
            "pin_id": e["pin_ids"][e["pin"]],
            "board_id": e["board_ids"][e["board"]],
            "saved_at": (
                np.datetime64("2026-01-01", "us") + rng.integers(0, 300 * 86_400_000_000, n)
            ),
        }
    )
    topics = np.array([f"t{i:02d}" for i in range(32)], dtype=object)
    pins = pd.DataFrame(
        {
            "pin_id": e["pin_ids"],
            "locale": np.array(LOCALES, dtype=object)[e["pin_locale"]],
            "topic": topics[rng.integers(0, 32, e["n_pins"])],
        }
    )
    boards = pd.DataFrame({"board_id": e["board_ids"], "owner_id": 0, "topic": None})
    if not quiet:
        say("table build: build_pin_board_graph from DataFrames (topics are random here, so")
        say("             entropy pruning is switched off; every other step is timed)")
    t = time.perf_counter()
    g, report = build_pin_board_graph(
        saves, pins, boards, np.datetime64("2027-01-01"), PruneConfig(max_board_entropy=10.0)
    )
    elapsed = time.perf_counter() - t
    if not quiet:
        say(f"table build in {elapsed:.2f}s: {report.as_dict()}")
    return elapsed


if __name__ == "__main__":
    main()
