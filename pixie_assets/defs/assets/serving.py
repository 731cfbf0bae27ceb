"""Assets ``serving_logs`` (landing files of a day × client) and ``serving_log_table`` (DuckDB)."""

import time
from datetime import date

import dagster as dg
from pydantic import Field

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.sql import render_sql
from pixie_assets.core.warehouse import reader
from pixie_assets.defs.assets.candidates import walk_candidates
from pixie_assets.defs.metadata import described_check
from pixie_assets.defs.partitions import day_client_partitions, split_day_client
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.ingest import ingest_partition
from pixie_assets.landing import (
    LandingValidationError,
    check_footer,
    data_files,
    partition_dir,
)
from pixie_assets.landing.write import staged_partition
from pixie_assets.serving.candidates import candidate_parts
from pixie_assets.training.serving_model import (
    choose_serving_model,
    served_version,
    serving_scorer_for,
)
from pixie_assets.world.serve_shards import (
    LANDING_TABLES,
    plan_serve_shards,
    release_caches,
    remember_scorer,
    serve_shard,
    summarize_shards,
)

SERVING_LOG_TABLES = ("serving_log", "impressions", "engagements")


class ServeConfig(dg.Config):
    """Run config of ``serving_logs``."""

    model_version: str = Field(
        default="",
        description="Re-serve the partition with this model instead of the one that served it: "
        "'champion' (the client's @champion now), 'visit_count', or a version number. Empty: "
        "a first run serves with @champion, and a re-run with the version recorded in the "
        "partition's serving_log, so a backfill reproduces history.",
    )


class IngestConfig(dg.Config):
    """Run config of ``serving_log_table``."""

    allow_shrink: bool = Field(
        default=False,
        description="Accept landing files that shrink an already loaded partition by more than "
        "half of a table's rows (to zero, say). Off: such a run fails and changes nothing.",
    )


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[walk_candidates],
    group_name="serving",
    kinds={"duckdb", "xgboost", "parquet"},
    description=(
        "Serving-stage logs of a day × client in $PIXIE_HOME/landing/<table>/day=D/client=C/: "
        "every candidate with its features and lightweight score (serving_log), what the full "
        "ranker showed (impressions) and what users did (engagements, plus saves that become "
        "graph edges for later days). World mode simulates the service with the client's "
        "@champion (visit count until there is one), one part-NNNNN.parquet per table and "
        "shard of candidates, in process or on the Dask cluster of PIXIE_DASK; landing mode "
        "only observes the files."
    ),
)
def serving_logs(
    context: dg.AssetExecutionContext, config: ServeConfig, pixie: PixieSettings
) -> dg.MaterializeResult:
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    if settings.source != "world":
        return _observe_landing(settings, day_text, client)
    day = date.fromisoformat(day_text)
    folder = settings.candidates_partition_dir(day_text, client)
    parts = candidate_parts(folder)
    if not parts:
        raise FileNotFoundError(
            f"no candidate part files in {folder}: materialize walk_candidates for {day_text} "
            f"and {client} first"
        )

    recorded = served_version(settings.landing_dir, day, client)
    choice = choose_serving_model(recorded, config.model_version)
    # Resolved here, once: every shard serves with this version even if @champion moves.
    scorer = serving_scorer_for(settings, client, choice.model)
    started = time.perf_counter()
    try:
        remember_scorer(settings, client, scorer)
        with (
            staged_partition(settings.landing_dir, day_text, client, LANDING_TABLES) as staging,
            pixie.shard_runner() as runner,
        ):
            context.log.info(
                f"serving {len(parts)} shard(s) of {client} candidates on {day} with "
                f"{scorer.version} ({choice.reason}) on {runner.workers} worker(s)"
            )
            tasks = plan_serve_shards(
                settings, day, client, scorer.version, parts, staging, runner.task_threads
            )
            try:
                summary = summarize_shards(runner.map(serve_shard, tasks))
            finally:  # workers may serve another partition next: drop this one's inputs
                runner.run_everywhere(release_caches)
            workers, dashboard = runner.workers, runner.dashboard
    finally:
        release_caches()
    seconds = time.perf_counter() - started

    requests = max(summary.requests, 1)
    return dg.MaterializeResult(
        metadata={
            "model_version": scorer.version,
            "model_choice": choice.reason,
            "previously_served_by": recorded or "none",
            **{f"rows/{name}": n for name, n in summary.rows.items()},
            "impressions_per_request": summary.rows["impressions"] / requests,
            **{f"actions_per_request/{a}": n / requests for a, n in summary.actions.items()},
            "serving_seconds": seconds,
            "shards": len(parts),
            "workers": workers,
            **({"dask_dashboard": dg.MetadataValue.url(dashboard)} if dashboard else {}),
            "path": dg.MetadataValue.path(str(settings.landing_dir)),
            "dagster/row_count": summary.rows["serving_log"],
        }
    )


def _observe_landing(settings, day: str, client: str) -> dg.MaterializeResult:
    """Landing mode: an online service wrote the files; report what is there, refusing (by
    file) what cannot be read or does not fit the contract."""
    metadata: dict[str, object] = {"source": settings.source}
    problems: list[str] = []
    for table in SERVING_LOG_TABLES:
        folder = partition_dir(settings.landing_dir, table, day, client)
        footers = [check_footer(path, table) for path in data_files(folder)]
        problems += [problem for footer in footers for problem in footer.problems]
        metadata[f"files/{table}"] = len(footers)
        metadata[f"rows/{table}"] = sum(footer.rows or 0 for footer in footers)
    if problems:
        raise LandingValidationError(date.fromisoformat(day), client, problems)
    return dg.MaterializeResult(metadata=metadata)


def _keys_description(client: str, day: str, problems: dict[str, tuple[int, int]]) -> str:
    """One line of what keys_unique_not_null checked, and on which partition: the null and
    duplicate (request_id, pin_id) keys of each table, all of which must be 0."""
    counts = "; ".join(
        f"{table} {nulls:,} null, {duplicates:,} duplicate"
        for table, (nulls, duplicates) in problems.items()
    )
    return f"{client} {day}: (request_id, pin_id) keys: {counts} (0 allowed)"


@dg.asset(
    partitions_def=day_client_partitions,
    deps=[serving_logs],
    pool="duckdb",
    group_name="serving",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "keys_unique_not_null",
            asset="serving_log_table",
            blocking=True,
            description="In the loaded partition, (request_id, pin_id) is never null and unique "
            "in serving_log and in impressions.",
        )
    ],
    description=(
        "The partition's landing files (serving_log, impressions, engagements) validated "
        "(schema, types, keys, duplicates) and loaded into $PIXIE_HOME/pixie.duckdb, replacing "
        "that partition alone in one transaction: re-runs are idempotent, bad files change nothing."
    ),
)
def serving_log_table(
    context: dg.AssetExecutionContext, config: IngestConfig, pixie: PixieSettings
):
    settings = pixie.resolved()
    day_text, client = split_day_client(context.partition_key)
    report = ingest_partition(
        settings.duckdb_path,
        settings.landing_dir,
        date.fromisoformat(day_text),
        client,
        configured_clients=tuple(CLIENTS),
        allow_shrink=config.allow_shrink,
    )
    stats = report.as_dict()
    context.log.info(f"ingested {client} {day_text}: {stats}")
    with reader(settings.duckdb_path) as con:
        problems = {
            table: con.sql(
                render_sql("checks/key_problems", table=table),
                params={"day": date.fromisoformat(day_text), "client": client},
            ).fetchall()[0]
            for table in ("serving_log", "impressions")
        }
    key_metadata = {
        f"{table}_{kind}": int(value)
        for table, (nulls, duplicates) in problems.items()
        for kind, value in (("null_keys", nulls), ("duplicate_keys", duplicates))
    }
    return dg.MaterializeResult(
        check_results=[
            described_check(
                "keys_unique_not_null",
                passed=not any(key_metadata.values()),
                description=_keys_description(client, day_text, problems),
                partition=str(context.partition_key),
                metadata=key_metadata,
            )
        ],
        metadata={
            **{k: v for k, v in stats.items() if isinstance(v, (int, float, str))},
            "duckdb": dg.MetadataValue.path(str(settings.duckdb_path)),
            "allow_shrink": config.allow_shrink,
            "dagster/row_count": int(stats.get("serving_log_rows", 0)),
        },
    )
