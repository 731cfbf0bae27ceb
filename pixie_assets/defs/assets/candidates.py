"""Assets ``pin_board_graph`` (per day) and ``walk_candidates`` (per day × client)."""

import time
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pyarrow as pa

from pixie_assets.core.clients import client_config
from pixie_assets.core.files import staged_directory, write_parquet
from pixie_assets.core.quality import candidate_coverage, graph_sanity
from pixie_assets.core.seeds import partition_seed
from pixie_assets.defs.assets.world import world
from pixie_assets.defs.metadata import (
    ccdf_figure,
    column_schema,
    line_figure,
    plot_markdown,
    quantile_markdown,
)
from pixie_assets.defs.partitions import day_client_partitions, day_partitions, split_day_client
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.graph import PruneConfig, build_pin_board_graph, load_graph, save_graph
from pixie_assets.landing.sources import read_table
from pixie_assets.serving.candidates import generate_candidates
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
            dg.AssetCheckResult(
                check_name="graph_sanity",
                passed=sanity["pins_without_boards"] == 0
                and sanity["boards_without_pins"] == 0
                and sanity["pruned_edge_fraction"] <= MAX_PRUNED_FRACTION,
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
        "$PIXIE_HOME/candidates/day=D/client=C/ (requests.parquet, candidates.parquet)."
    ),
)
def walk_candidates(
    context: dg.AssetExecutionContext, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    day = date.fromisoformat(day_text)
    config = client_config(client)
    graph = load_graph(settings.graph_day_dir(day_text))

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
    context.log.info(f"walking {len(requests):,} {client} requests on {day}")
    candidates, stats = generate_candidates(
        graph,
        requests,
        queries,
        config,
        seed=partition_seed(settings.world_seed, day, client, "walks"),
        user_locales=users.set_index("user_id")["locale"],
    )
    context.log.info(
        f"{stats.candidates:,} candidates, {stats.steps_per_second / 1e6:.1f}M steps/s"
    )

    target = settings.candidates_partition_dir(day_text, client)
    request_table = pa.Table.from_pandas(
        requests.merge(queries, on="request_id"), preserve_index=False
    )
    candidate_table = pa.Table.from_pandas(candidates, preserve_index=False)
    with staged_directory(target) as staging:
        write_parquet(request_table, staging / "requests.parquet")
        write_parquet(candidate_table, staging / "candidates.parquet")

    per_request = candidates.groupby("request_id").size().to_numpy()
    per_request = np.concatenate([per_request, np.zeros(stats.requests - len(per_request))])
    coverage = candidate_coverage(stats.requests, per_request, config.candidates_k)
    by_rank = candidates.groupby("visit_rank")["visit_count"].mean()
    curve = plot_markdown(
        line_figure(
            by_rank.index.to_numpy(),
            {"mean visit count": by_rank.to_numpy()},
            f"{client} {day_text}: visit count by rank",
            "visit rank",
            "boosted visit count",
            log=True,
        ),
        "visit-count curve",
    )
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="candidate_coverage",
                passed=coverage["requests_with_candidates_share"] >= MIN_SERVED_SHARE
                and coverage["mean_fill_of_k"] >= MIN_FILL,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=coverage,
            )
        ],
        metadata={
            "visit_count_curve": curve,
            "requests": stats.requests,
            "requests_without_candidates": stats.requests_without_candidates,
            "candidates": stats.candidates,
            "candidates_per_request": stats.mean_candidates_per_request,
            # Coverage: how many different pins the partition's requests reach between them.
            "distinct_pins": int(candidates["pin_id"].nunique()),
            "distinct_pins_per_request": candidates["pin_id"].nunique() / max(stats.requests, 1),
            "walk_steps": stats.walk_steps,
            "steps_per_second": stats.steps_per_second,
            "path": dg.MetadataValue.path(str(target)),
            "dagster/row_count": stats.candidates,
            "dagster/column_schema": column_schema(candidate_table.schema),
        },
    )
