"""Where each contract table's rows come from for a given day.

The loop closes outside the asset graph (docs/architecture.md §1): the graph and the queries of day
D read the world's history plus whatever earlier days' serving wrote to the landing folder. Landing
files are selected by their ``day=YYYY-MM-DD`` folder, so day D never sees day D or later.

``PIXIE_SOURCE=world`` reads the world's files plus the loop's own landing days.
``PIXIE_SOURCE=landing`` and ``replay`` read every input table from the landing folder
(``Settings.landing_dir``: ``PIXIE_LANDING``, default ``$PIXIE_HOME/landing``) in the contract's
layout, validated once per set of files by ``validate_landing``: a user's own data is checked
where it enters, with one report of everything wrong.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from pixie_assets.core.contract import WORLD_TABLES
from pixie_assets.core.settings import Settings
from pixie_assets.core.sql import bind, render_sql
from pixie_assets.landing.layout import SOURCE_TABLES, scan_table
from pixie_assets.landing.rules import TIME_COLUMN
from pixie_assets.landing.schema import duckdb_type
from pixie_assets.landing.validate import LandingInventory, validate_landing
from pixie_assets.serving.featurize import CONTEXT_LOOKBACK_DAYS, FeatureContext, FeatureSpec
from pixie_assets.world.store import table_path

LANDING_SOURCES = ("landing", "replay")


def landing_inventory(settings: Settings) -> LandingInventory:
    """The validated input files of landing/replay mode; raises ``LandingContractError`` with
    every problem of every input table at once."""
    return validate_landing(settings.landing_dir, SOURCE_TABLES)


def _world_mode_files(settings: Settings, table: str, before: date | None) -> list[Path]:
    """The world's file of ``table`` (world mode) and the loop's landing days before ``before``
    of the tables serving writes back (saves, engagements)."""
    files = []
    if settings.source == "world":
        world_file = table_path(settings.world_dir, table)
        if not world_file.exists():
            raise FileNotFoundError(f"{world_file} does not exist: materialize `world` first")
        files.append(world_file)
    if table in TIME_COLUMN:
        files += [file.path for file in scan_table(settings.landing_dir, table, before).files]
    return files


def table_files(
    settings: Settings,
    table: str,
    before: date | None = None,
    inventory: LandingInventory | None = None,
) -> list[Path]:
    """Every file holding rows of ``table`` known before ``before`` (in landing and replay
    mode from ``inventory`` when given: one listing of a folder of thousands of day files
    serves every table read from it)."""
    if settings.source in LANDING_SOURCES:
        return (inventory or landing_inventory(settings)).paths(table, before)
    return _world_mode_files(settings, table, before)


def _window(table: str, before: date | None, since: date | None) -> str:
    """The condition keeping event times in [since, before); ``true`` for a table without
    event times or a window without bounds. The days themselves are bound, not formatted."""
    column = TIME_COLUMN.get(table)
    conditions = []
    if column and before is not None:
        conditions.append(f'"{column}" < $before')
    if column and since is not None:
        conditions.append(f'"{column}" >= $since')
    return " AND ".join(conditions) or "true"


def read_table(
    settings: Settings,
    table: str,
    before: date | None = None,
    since: date | None = None,
    columns: list[str] | None = None,
    inventory: LandingInventory | None = None,
) -> pa.Table:
    """Rows of a contract table with event time in [since, before), as Arrow, via DuckDB."""
    schema = WORLD_TABLES[table]
    columns = columns or schema.names
    files = table_files(settings, table, before, inventory)
    if not files:
        return schema.empty_table().select(columns)
    statement = render_sql(
        "landing/read_table",
        columns=", ".join(
            f'CAST("{c}" AS {duckdb_type(schema.field(c).type)}) AS "{c}"' for c in columns
        ),
        window=_window(table, before, since),
    )
    values = {"files": [str(f) for f in files], "before": before, "since": since}
    with duckdb.connect() as con:
        result = con.sql(statement, params=bind(statement, values)).to_arrow_table()
    return result.cast(pa.schema([schema.field(c) for c in columns]))


def day_feature_context(
    settings: Settings, day: date, spec: FeatureSpec, threads: int | None = None
) -> FeatureContext:
    """The feature context of serving ``day``: users, pins, and the saves and engagements of the
    ``CONTEXT_LOOKBACK_DAYS`` before it, as every serving path (batch shards, the online service)
    builds it, which is what makes their features equal."""
    since = day - timedelta(days=CONTEXT_LOOKBACK_DAYS)
    return FeatureContext(
        spec,
        day,
        users=read_table(settings, "users"),
        pins=read_table(settings, "pins"),
        recent_saves=read_table(settings, "saves", before=day, since=since),
        recent_engagements=read_table(settings, "engagements", before=day, since=since),
        threads=threads,
    )
