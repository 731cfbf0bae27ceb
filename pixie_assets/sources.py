"""Where each contract table's rows come from for a given day.

The loop closes outside the asset graph (DESIGN §1): the graph and the queries of day D read the
world's history plus whatever earlier days' serving wrote to the landing folder. Landing files are
selected by their ``day=YYYY-MM-DD`` folder, so day D never sees day D or later.

``PIXIE_SOURCE=world`` reads the world's files plus the loop's own landing days.
``PIXIE_SOURCE=landing`` and ``replay`` read every input table from the landing folder
(``Settings.landing_dir``: ``PIXIE_LANDING``, default ``$PIXIE_HOME/landing``) in the contract's
layout, validated once per set of files by ``landing_contract.validate_landing``: a user's own
data is checked where it enters, with one report of everything wrong.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from pixie_assets.core.contract import WORLD_TABLES
from pixie_assets.core.settings import Settings
from pixie_assets.ingest.tables import duckdb_type
from pixie_assets.landing_contract import SOURCE_TABLES, LandingInventory, validate_landing
from pixie_assets.world.store import table_path

LANDING_SOURCES = ("landing", "replay")

DAY_FOLDER = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
TIME_COLUMN = {"saves": "saved_at", "engagements": "ts"}


def landing_files(landing_dir: Path, table: str, before: date | None = None) -> list[Path]:
    """Parquet files of ``landing/<table>/day=D/...`` with D < ``before``, in a stable order."""
    root = landing_dir / table
    if not root.exists():
        return []
    files: list[Path] = []
    for day_dir in sorted(root.iterdir()):
        match = DAY_FOLDER.match(day_dir.name)
        if not match or (before is not None and date.fromisoformat(match[1]) >= before):
            continue
        files.extend(sorted(day_dir.rglob("*.parquet")))
    return files


def landing_root(settings: Settings) -> Path:
    """The landing folder: ``PIXIE_LANDING`` in landing and replay mode when set, else
    ``$PIXIE_HOME/landing`` (see ``Settings.landing_dir``)."""
    return settings.landing_dir


def landing_inventory(settings: Settings) -> LandingInventory:
    """The validated input files of landing/replay mode; raises ``LandingContractError`` with
    every problem of every input table at once."""
    return validate_landing(landing_root(settings), SOURCE_TABLES)


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
    files = []
    if settings.source == "world":
        world_file = table_path(settings.world_dir, table)
        if not world_file.exists():
            raise FileNotFoundError(f"{world_file} does not exist: materialize `world` first")
        files.append(world_file)
    if table in TIME_COLUMN:
        files.extend(landing_files(settings.landing_dir, table, before))
    return files


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
    conditions = []
    if table in TIME_COLUMN and before is not None:
        conditions.append(f"{TIME_COLUMN[table]} < DATE '{before.isoformat()}'")
    if table in TIME_COLUMN and since is not None:
        conditions.append(f"{TIME_COLUMN[table]} >= DATE '{since.isoformat()}'")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    # Cast in DuckDB: landing files may hold lossless widenings of the contract types (int32
    # ids, ns timestamps, dictionary strings), which Arrow's safe cast would refuse or mangle.
    select = ", ".join(
        f'CAST("{c}" AS {duckdb_type(schema.field(c).type)}) AS "{c}"' for c in columns
    )
    with duckdb.connect() as con:
        result = con.sql(
            f"SELECT {select} FROM read_parquet($files, union_by_name = true, "
            f"hive_partitioning = false) {where}",
            params={"files": [str(f) for f in files]},
        ).to_arrow_table()
    return result.cast(pa.schema([schema.field(c) for c in columns]))
