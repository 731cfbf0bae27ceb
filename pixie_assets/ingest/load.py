"""Loading one validated landing partition into DuckDB, atomically.

The partition is validated in a private in-memory DuckDB first (``pixie_assets.landing``), so
the database file is opened (and its single-writer lock taken) only for the write itself: readers
elsewhere open it read-only and are kept waiting no longer than the DELETE and INSERTs take. The
write is one transaction, so a failure at any point leaves every table as it was, and re-running
replaces the partition rather than appending to it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pixie_assets.core.failpoints import failpoint
from pixie_assets.core.sql import bind, render_sql
from pixie_assets.core.warehouse import READ_WAIT_SECONDS, connect_when_free
from pixie_assets.ingest.tables import INGEST_TABLES, IngestTable
from pixie_assets.landing import (
    LandingValidationError,
    PartitionShrinkError,
    TableFiles,
    check_client,
    check_contents,
    ensure_unchanged,
    explain_nulls,
    find_unreadable,
    inspect_partition,
)

DuckDBConfig = Mapping[str, str | int | bool]

# A cap, not a reservation: one partition needs a few hundred MB (the distinct-key hash table is
# the peak), and Dagster may run other processes beside this one. Row order means nothing in
# these tables, and not preserving it spares DuckDB buffering rows to keep it on large inserts
# (less memory; no measurable change in speed here).
DEFAULT_DUCKDB_CONFIG: dict[str, str | int | bool] = {
    "memory_limit": "4GB",
    "preserve_insertion_order": False,
}


# A re-ingested partition may lose at most this share of any table's rows without an explicit
# override: late engagements only add rows and a re-served day keeps its size, so a larger drop is
# far likelier an empty, truncated or missing file than a deliberate correction.
DEFAULT_MAX_SHRINK = 0.5


class DuckDBTableMismatchError(RuntimeError):
    """A table already in the database does not have the columns the contract now implies
    (the contract changed since it was created): migrate or drop it; ingestion will not guess."""


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion did, per table: rows and files loaded, bytes read, rows the partition
    held before (replaced). ``as_dict`` flattens it for Dagster metadata."""

    day: date
    client: str
    rows: dict[str, int]
    files: dict[str, int]
    bytes: dict[str, int]
    replaced_rows: dict[str, int]
    validate_seconds: float
    write_seconds: float

    @property
    def seconds(self) -> float:
        return self.validate_seconds + self.write_seconds

    def as_dict(self) -> dict[str, str | int | float]:
        """Flat, JSON-friendly: ``<table>_rows``, ``<table>_files``, ``<table>_bytes``,
        ``<table>_replaced_rows``, plus timings and the partition."""
        flat: dict[str, str | int | float] = {"day": self.day.isoformat(), "client": self.client}
        for table in self.rows:
            flat[f"{table}_rows"] = self.rows[table]
            flat[f"{table}_files"] = self.files[table]
            flat[f"{table}_bytes"] = self.bytes[table]
            flat[f"{table}_replaced_rows"] = self.replaced_rows[table]
        flat["validate_seconds"] = round(self.validate_seconds, 4)
        flat["write_seconds"] = round(self.write_seconds, 4)
        flat["seconds"] = round(self.seconds, 4)
        return flat


def _connect(path: str, config: DuckDBConfig, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Waits while another process holds the file (a reader blocks a writer and vice versa)."""
    return connect_when_free(
        lambda: duckdb.connect(path, read_only=read_only, config=dict(config)), READ_WAIT_SECONDS
    )


def _column_definitions(table: IngestTable) -> str:
    return ", ".join(
        f"{name} {sql_type}{'' if nullable else ' NOT NULL'}"
        for name, sql_type, nullable in table.stored_columns
    )


def _ensure_table(con: duckdb.DuckDBPyConnection, table: IngestTable) -> None:
    """Create the table if missing; refuse one whose columns differ from what the contract
    implies, since inserting BY NAME into it would fail obscurely or drop data."""
    con.execute(
        render_sql("ingest/create_table", table=table.name, columns=_column_definitions(table))
    )
    statement = render_sql("ingest/table_columns")
    existing = con.execute(statement, bind(statement, {"table": table.name})).fetchall()
    wanted = [
        (name, sql_type, "YES" if nullable else "NO")
        for name, sql_type, nullable in table.stored_columns
    ]
    found = [(name, sql_type, "YES" if nullable else "NO") for name, sql_type, nullable in existing]
    if found != wanted:
        raise DuckDBTableMismatchError(
            f"DuckDB table {table.name} has columns {found}, the contract implies {wanted}"
        )


def _insert_columns(table: IngestTable) -> str:
    """Explicit casts to the contract types: files may carry accepted widenings (int32 for a
    BIGINT column, say), and casting here makes the stored type independent of the file's."""
    return ", ".join(
        f"CAST({name} AS {sql_type}) AS {name}"
        for name, sql_type, _ in table.stored_columns[: len(table.schema)]
    )


def _write(
    con: duckdb.DuckDBPyConnection,
    partition: Mapping[str, TableFiles],
    day: date,
    client: str,
) -> tuple[dict[str, int], dict[str, int]]:
    """DELETE then INSERT every table's partition; the caller owns the transaction. Returns rows
    replaced and rows inserted per table."""
    values = {"day": day, "client": client}
    replaced: dict[str, int] = {}
    inserted: dict[str, int] = {}
    for name, files in partition.items():
        table = INGEST_TABLES[name]
        _ensure_table(con, table)
        statement = render_sql("ingest/delete_partition", table=name)
        replaced[name] = con.execute(statement, bind(statement, values)).fetchone()[0]
        inserted[name] = 0
        if not files.files:
            continue
        statement = render_sql(
            "ingest/insert_partition",
            table=name,
            columns=_insert_columns(table),
            partition_columns="" if table.client_in_files else ", $client AS client",
        )
        try:
            result = con.execute(statement, bind(statement, {**values, "files": files.paths}))
        except duckdb.ConstraintException as error:
            raise _InsertRefused(files, error, nulls=True) from error
        except duckdb.Error as error:
            raise _InsertRefused(files, error, nulls=False) from error
        inserted[name] = result.fetchone()[0]
    return replaced, inserted


class _InsertRefused(Exception):
    """Internal: DuckDB refused to insert ``files``, for a NOT NULL constraint (``nulls``) or
    unreadable data; carried out of the transaction to be explained after the rollback."""

    def __init__(self, files: TableFiles, error: duckdb.Error, nulls: bool) -> None:
        super().__init__(str(error))
        self.files = files
        self.error = error
        self.nulls = nulls


def ingest_partition(
    duckdb_path: Path,
    landing_dir: Path,
    day: date,
    client: str,
    configured_clients: Collection[str],
    *,
    duckdb_config: DuckDBConfig | None = None,
    max_shrink: float = DEFAULT_MAX_SHRINK,
    allow_shrink: bool = False,
) -> IngestReport:
    """Load the (day, client) partition of serving_log, impressions and engagements from
    ``landing_dir`` into the DuckDB file at ``duckdb_path``, replacing what that partition held.

    Everything is validated before the database is opened, except nulls in the columns that do
    not identify a row (features, scores): those fail the NOT NULL constraints during the insert,
    and are then explained from the files in the same way. The write is one transaction, so on
    any error every table is left exactly as it was. Raises ``LandingValidationError`` (a
    ``ValueError``) naming each bad file and problem, ``LandingChangedError`` if files changed
    while being loaded (re-run), ``DuckDBTableMismatchError`` if an existing table no longer fits
    the contract. ``duckdb_config`` overrides ``DEFAULT_DUCKDB_CONFIG``.

    A partition already loaded never loses more than ``max_shrink`` of a table's rows (all of
    them, say, to an empty or missing file) unless ``allow_shrink``: ``PartitionShrinkError``
    names the table, its folder and both counts, and nothing changes.
    """
    started = time.perf_counter()
    duckdb_path = Path(duckdb_path)
    config = {
        **DEFAULT_DUCKDB_CONFIG,
        # spills of the in-memory validation go beside the database, not into the cwd
        "temp_directory": f"{duckdb_path}.tmp",
        **(duckdb_config or {}),
    }
    check_client(day, client, configured_clients)
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)  # also holds validation's spill folder
    partition = inspect_partition(Path(landing_dir), day, client)
    with _connect(":memory:", config) as scratch:
        rows = check_contents(scratch, partition, day, client)
    validated = time.perf_counter()

    with _connect(str(duckdb_path), config) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            replaced, inserted = _write(con, partition, day, client)
            if not allow_shrink:
                _refuse_shrinking(partition, replaced, inserted, max_shrink, day, client)
            ensure_unchanged(partition)
            if inserted != rows:
                raise RuntimeError(f"inserted {inserted} rows, validated {rows}; rolled back")
            failpoint("ingest.before_commit")
            con.execute("COMMIT")
        except BaseException as error:
            # if ROLLBACK itself fails, closing the connection discards the transaction anyway
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            if isinstance(error, _InsertRefused):
                _explain_insert_failure(error, day, client, config)
                raise error.error from None
            raise
    written = time.perf_counter()
    failpoint("ingest.after_commit")

    return IngestReport(
        day=day,
        client=client,
        rows=inserted,
        files={name: len(files.files) for name, files in partition.items()},
        bytes={name: files.bytes for name, files in partition.items()},
        replaced_rows=replaced,
        validate_seconds=validated - started,
        write_seconds=written - validated,
    )


def _refuse_shrinking(
    partition: Mapping[str, TableFiles],
    replaced: Mapping[str, int],
    inserted: Mapping[str, int],
    max_shrink: float,
    day: date,
    client: str,
) -> None:
    """Raise ``PartitionShrinkError`` (inside the transaction, so it rolls back) when a table
    would keep less than ``1 - max_shrink`` of the rows it held."""
    problems = [
        f"{partition[table].folder}: {table} would shrink from {replaced[table]:,} to "
        f"{inserted[table]:,} rows (more than {max_shrink:.0%} of the loaded partition); if "
        "that is intended, re-run with allow_shrink (asset config `allow_shrink: true`)"
        for table in partition
        if replaced[table] > 0 and inserted[table] < replaced[table] * (1 - max_shrink)
    ]
    if problems:
        raise PartitionShrinkError(day, client, problems)


def _explain_insert_failure(
    failure: _InsertRefused, day: date, client: str, config: DuckDBConfig
) -> None:
    """Turn an insert that DuckDB refused into a ``LandingValidationError`` naming the file, or
    return (the caller re-raises DuckDB's error) if the files show no such problem."""
    if failure.nulls:
        with _connect(":memory:", config) as scratch:
            problems = explain_nulls(scratch, failure.files)
    else:
        problems = find_unreadable(file.path for file in failure.files.files)
    if problems:
        raise LandingValidationError(day, client, problems) from failure.error


def read_partition_counts(duckdb_path: Path, day: date, client: str) -> dict[str, int]:
    """Rows per serving table of one (day, client) partition, through a read-only connection;
    0 for a table (or a database) that does not exist yet, since nothing was ingested into it."""
    counts = dict.fromkeys(INGEST_TABLES, 0)
    if not Path(duckdb_path).exists():
        return counts
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        existing = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        values = {"day": day, "client": client}
        for name in INGEST_TABLES:
            if name in existing:
                statement = render_sql("ingest/count_partition", table=name)
                counts[name] = con.execute(statement, bind(statement, values)).fetchone()[0]
    return counts
