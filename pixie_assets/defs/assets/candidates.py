"""Assets ``pin_board_graph`` (per day) and ``walk_candidates`` (per day × client)."""

import time
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core.clients import client_config
from pixie_assets.core.files import staged_directory, write_parquet
from pixie_assets.core.quality import candidate_coverage, graph_sanity
from pixie_assets.core.seeds import partition_seed
from pixie_assets.defs.assets.world import world
from pixie_assets.defs.metadata import (
    ccdf_figure,
    column_schema,
    described_check,
    line_figure,
    plot_markdown,
    quantile_markdown,
    versus,
)
from pixie_assets.defs.partitions import day_client_partitions, day_partitions, split_day_client
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.distributed import plan_shards
from pixie_assets.graph import PruneConfig, build_pin_board_graph, save_graph
from pixie_assets.landing.sources import read_table
from pixie_assets.serving.candidates import (
    SHARD_REQUESTS,
    WalkShardResult,
    WalkShardTask,
    request_batch,
    walk_shard,
)
from pixie_assets.serving.queries import (
    engagement_weights,
    recent_engagement_queries,
    viewed_pin_queries,
)
from pixie_assets.serving.traffic import observed_activity, sample_requests
from pixie_assets.world.truth import WorldTruth

MAX_PRUNED_FRACTION = 0.5
MIN_SERVED_SHARE = 0.9
MIN_FILL = 0.5
_PERCENT = "{:.1%}"


def _graph_sanity_description(day: date, sanity: dict) -> str:
    """One line of what graph_sanity checked, and on which day."""
    pruned = versus(sanity["pruned_edge_fraction"], MAX_PRUNED_FRACTION, fmt=_PERCENT)
    return (
        f"{day}: {sanity['pins_without_boards']:,} pins without boards and "
        f"{sanity['boards_without_pins']:,} boards without pins (0 allowed); "
        f"pruned {pruned} of unique edges"
    )


def _coverage_description(client: str, day: str, coverage: dict) -> str:
    """One line of what candidate_coverage checked, and on which partition."""
    share = coverage["requests_with_candidates_share"]
    served = versus(share, MIN_SERVED_SHARE, upper=False, fmt=_PERCENT)
    fill = versus(coverage["mean_fill_of_k"], MIN_FILL, upper=False, fmt=_PERCENT)
    return (
        f"{client} {day}: {served} of {coverage['requests']:,} requests got candidates; "
        f"lists filled {fill} of K on average"
    )


@dg.asset(
    partitions_def=day_partitions,
    deps=[world],
    group_name="candidates",
    kinds={"numpy", "numba"},
    check_specs=[
        dg.AssetCheckSpec(
            "graph_sanity",
            asset="pin_board_graph",
            blocking=True,
            description="No pin without boards and no board without pins after pruning; "
            f"pruning removed at most {MAX_PRUNED_FRACTION:.0%} of the edges.",
        )
    ],
    description=(
        "Pin–board graph of all saves before the day (world history plus earlier days' landing "
        "saves), pruned (high-entropy and oversized boards dropped, pin degree capped keeping "
        "the most recent edges), as memory-mappable CSR arrays in $PIXIE_HOME/graph/day=D/."
    ),
)
def pin_board_graph(
    context: dg.AssetExecutionContext, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    saves = read_table(settings, "saves", before=day).to_pandas()
    pins = read_table(settings, "pins", columns=["pin_id", "locale", "topic"]).to_pandas()
    boards = read_table(settings, "boards").to_pandas()
    context.log.info(f"building the graph of {len(saves):,} saves before {day}")
    read_seconds = time.perf_counter() - started

    started = time.perf_counter()
    graph, report = build_pin_board_graph(
        saves, pins, boards, cutoff=np.datetime64(day.isoformat()), config=PruneConfig()
    )
    build_seconds = time.perf_counter() - started

    target = settings.graph_day_dir(day.isoformat())
    save_graph(graph, target)
    stats = report.as_dict()
    context.log.info(f"graph for {day}: {stats}")
    # repeated saves of one (pin, board) are one edge, not pruning: measure against unique edges
    sanity = graph_sanity(
        graph.pin_degree, graph.board_degree, stats["edges_unique"], stats["edges_kept"]
    )
    degree_plot = plot_markdown(
        ccdf_figure(
            {"boards per pin": graph.pin_degree, "pins per board": graph.board_degree},
            f"degree distribution, {day}",
            "degree",
        ),
        "degree distribution",
    )
    return dg.MaterializeResult(
        check_results=[
            described_check(
                "graph_sanity",
                passed=sanity["pins_without_boards"] == 0
                and sanity["boards_without_pins"] == 0
                and sanity["pruned_edge_fraction"] <= MAX_PRUNED_FRACTION,
                description=_graph_sanity_description(day, sanity),
                partition=context.partition_key,
                metadata=sanity,
            )
        ],
        metadata={
            "degree_distribution": degree_plot,
            **{f"prune/{k}": v for k, v in stats.items()},
            "pruned_edge_fraction": 1 - stats["edges_kept"] / max(stats["edges_unique"], 1),
            "read_seconds": read_seconds,
            "build_seconds": build_seconds,
            "graph_bytes": graph.nbytes(),
            "csr_bytes": graph.csr_nbytes(),
            "degrees": dg.MetadataValue.md(
                quantile_markdown(
                    {"boards per pin": graph.pin_degree, "pins per board": graph.board_degree}
                )
            ),
            "path": dg.MetadataValue.path(str(target)),
            "dagster/row_count": int(stats["edges_kept"]),
        },
    )


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[
        dg.AssetDep(
            pin_board_graph,
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="day"
            ),
        )
    ],
    group_name="candidates",
    kinds={"numba", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "candidate_coverage",
            asset="walk_candidates",
            description=f"At least {MIN_SERVED_SHARE:.0%} of requests get candidates, and their "
            f"lists are at least {MIN_FILL:.0%} of K on average.",
        )
    ],
    description=(
        "Top-K Pixie candidates per request of the day's traffic on one client surface, with "
        "graph features (visit_count, visit_rank, query_hits, pin_degree), in "
        "$PIXIE_HOME/candidates/day=D/client=C/ (requests.parquet, and part-NNNNN.parquet: one "
        "per shard of 5,000 requests, walked in process or on the Dask cluster of PIXIE_DASK)."
    ),
)
def walk_candidates(
    context: dg.AssetExecutionContext, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    day = date.fromisoformat(day_text)
    config = client_config(client)

    engagements = read_table(
        settings, "engagements", before=day, since=day - timedelta(days=config.query_lookback_days)
    ).to_pandas()
    weights = engagement_weights(engagements, config, day)
    users = read_table(settings, "users", columns=["user_id", "locale"]).to_pandas()
    if settings.source == "world":
        activity = WorldTruth.load(settings.truth_dir).hidden_activity()
    else:  # your own data: serve the users who engaged most recently
        activity = observed_activity(weights)
    requests = sample_requests(activity, len(users), config, day, settings.world_seed, weights)
    queries = (
        viewed_pin_queries(requests)
        if config.query == "viewed_pin"
        else recent_engagement_queries(requests, weights, config)
    )
    batch = request_batch(requests, queries, users.set_index("user_id")["locale"])
    shards = plan_shards(len(batch), SHARD_REQUESTS)
    target = settings.candidates_partition_dir(day_text, client)
    request_table = pa.Table.from_pandas(
        requests.merge(queries, on="request_id"), preserve_index=False
    )
    seed = partition_seed(settings.world_seed, day, client, "walks")
    started = time.perf_counter()
    with staged_directory(target) as staging, pixie.shard_runner() as runner:
        context.log.info(
            f"walking {len(requests):,} {client} requests on {day} in {len(shards)} shards "
            f"on {runner.workers} worker(s)"
        )
        write_parquet(request_table, staging / "requests.parquet")
        tasks = (
            WalkShardTask(
                shard=shard,
                batch=batch.iloc[shard.start : shard.stop],
                graph_dir=str(settings.graph_day_dir(day_text)),
                out_dir=str(staging),
                config=config,
                seed=seed,
                threads=runner.task_threads,
            )
            for shard in shards
        )
        # A task carries its shard's queries: a few at a time in flight, not the whole day's
        # (the large world's homefeed day was one 390 MiB task graph).
        results = list(runner.imap(walk_shard, tasks))
        dashboard = runner.dashboard
    seconds = time.perf_counter() - started
    summary = _summarize_shards(results)
    walk_rate = summary["walk_steps"] / max(summary["walk_seconds"], 1e-9)
    context.log.info(
        f"{summary['candidates']:,} candidates, {summary['walk_steps'] / seconds / 1e6:.1f}M "
        f"steps/s over the step ({walk_rate / 1e6:.1f}M inside the walks)"
    )
    coverage = candidate_coverage(summary["requests"], summary["per_request"], config.candidates_k)
    ranks = np.flatnonzero(summary["rank_counts"])
    curve = plot_markdown(
        line_figure(
            ranks,
            {"mean visit count": summary["rank_visits"][ranks] / summary["rank_counts"][ranks]},
            f"{client} {day_text}: visit count by rank",
            "visit rank",
            "boosted visit count",
            log=True,
        ),
        "visit-count curve",
    )
    schema = pq.read_schema(target / shards[0].part_name)
    return dg.MaterializeResult(
        check_results=[
            described_check(
                "candidate_coverage",
                passed=coverage["requests_with_candidates_share"] >= MIN_SERVED_SHARE
                and coverage["mean_fill_of_k"] >= MIN_FILL,
                description=_coverage_description(client, day_text, coverage),
                partition=str(context.partition_key),
                severity=dg.AssetCheckSeverity.WARN,
                metadata=coverage,
            )
        ],
        metadata={
            "visit_count_curve": curve,
            "requests": summary["requests"],
            "requests_without_candidates": summary["requests_without_candidates"],
            "candidates": summary["candidates"],
            "candidates_per_request": summary["candidates"] / max(summary["requests"], 1),
            # Coverage: how many different pins the partition's requests reach between them.
            "distinct_pins": summary["distinct_pins"],
            "distinct_pins_per_request": summary["distinct_pins"] / max(summary["requests"], 1),
            "walk_steps": summary["walk_steps"],
            "steps_per_second": walk_rate,
            "step_seconds": seconds,
            "shards": len(shards),
            "workers": runner.workers,
            **({"dask_dashboard": dg.MetadataValue.url(dashboard)} if dashboard else {}),
            "path": dg.MetadataValue.path(str(target)),
            "dagster/row_count": summary["candidates"],
            "dagster/column_schema": column_schema(schema),
        },
    )


def _summarize_shards(results: list[WalkShardResult]) -> dict:
    """The partition's figures from its shards' summaries, as if walked at once."""
    longest = max(len(r.rank_counts) for r in results)

    def padded(arrays: list[np.ndarray]) -> np.ndarray:
        return np.sum([np.pad(a, (0, longest - len(a))) for a in arrays], axis=0)

    requests = sum(r.stats.requests for r in results)
    per_request = np.concatenate([r.per_request for r in results])
    return {
        "requests": requests,
        "requests_without_candidates": sum(r.stats.requests_without_candidates for r in results),
        "candidates": sum(r.stats.candidates for r in results),
        # requests without candidates count as zeros, as the coverage check expects
        "per_request": np.concatenate([per_request, np.zeros(requests - len(per_request))]),
        "distinct_pins": len(np.unique(np.concatenate([r.distinct_pins for r in results]))),
        "walk_steps": sum(r.stats.walk_steps for r in results),
        "walk_seconds": sum(r.stats.walk_seconds for r in results),
        "rank_visits": padded([r.rank_visits for r in results]),
        "rank_counts": padded([r.rank_counts for r in results]),
    }
