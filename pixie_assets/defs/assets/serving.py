"""Assets ``serving_logs`` (landing files of a day × client) and ``serving_log_table`` (DuckDB)."""

import time
from datetime import date, timedelta

import dagster as dg
import pyarrow.parquet as pq
from pydantic import Field

from pixie_assets.core.clients import CLIENTS, client_config
from pixie_assets.core.seeds import partition_seed
from pixie_assets.core.sql import render_sql
from pixie_assets.core.warehouse import reader
from pixie_assets.defs.assets.candidates import walk_candidates
from pixie_assets.defs.partitions import day_client_partitions, split_day_client
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.ingest import ingest_partition
from pixie_assets.landing import (
    LandingValidationError,
    check_footer,
    data_files,
    partition_dir,
    write_partition,
)
from pixie_assets.landing.sources import read_table
from pixie_assets.serving.candidates import read_candidates
from pixie_assets.serving.featurize import CONTEXT_LOOKBACK_DAYS, FeatureContext
from pixie_assets.serving.pipeline import score_candidates
from pixie_assets.training.serving_model import (
    choose_serving_model,
    served_version,
    serving_scorer_for,
)
from pixie_assets.world.simulator import serve_world_day
from pixie_assets.world.truth import WorldTruth

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
        "@champion (visit count until there is one); landing mode only observes the files."
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
    candidates = read_candidates(folder)

    recorded = served_version(settings.landing_dir, day, client)
    choice = choose_serving_model(recorded, config.model_version)
    scorer = serving_scorer_for(settings, client, choice.model)
    context.log.info(
        f"serving {len(candidates):,} candidates of {client} on {day} with {scorer.version} "
        f"({choice.reason})"
    )
    started = time.perf_counter()
    users = read_table(settings, "users")
    pins = read_table(settings, "pins")
    since = day - timedelta(days=CONTEXT_LOOKBACK_DAYS)
    with FeatureContext(
        scorer.feature_spec,
        day,
        users=users,
        pins=pins,
        recent_saves=read_table(settings, "saves", before=day, since=since),
        recent_engagements=read_table(settings, "engagements", before=day, since=since),
    ) as features:
        scored = score_candidates(candidates, features, scorer)
    tables = serve_world_day(
        WorldTruth.load(settings.truth_dir),
        client_config(client),
        scored,
        boards=read_table(settings, "boards").to_pandas(),
        pins=pins.to_pandas(),
        seed=partition_seed(settings.world_seed, day, client, "serving"),
    )
    write_partition(settings.landing_dir, day_text, client, tables)
    seconds = time.perf_counter() - started

    requests = max(candidates["request_id"].nunique(), 1)
    actions = tables["engagements"]["action"].to_pandas().value_counts()
    return dg.MaterializeResult(
        metadata={
            "model_version": scorer.version,
            "model_choice": choice.reason,
            "previously_served_by": recorded or "none",
            **{f"rows/{name}": table.num_rows for name, table in tables.items()},
            "impressions_per_request": tables["impressions"].num_rows / requests,
            **{f"actions_per_request/{a}": int(n) / requests for a, n in actions.items()},
            "serving_seconds": seconds,
            "path": dg.MetadataValue.path(str(settings.landing_dir)),
            "dagster/row_count": tables["serving_log"].num_rows,
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
            dg.AssetCheckResult(
                check_name="keys_unique_not_null",
                passed=not any(key_metadata.values()),
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
