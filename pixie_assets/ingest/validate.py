"""Validation of one landing partition, done before anything is written.

Two stages, both cheap when the data is good:

1. ``inspect_partition`` lists the files and reads only their Parquet footers (pyarrow): unreadable
   files, missing columns and wrong types are found without touching the data.
2. ``check_contents`` reads each table's files once in DuckDB, narrowed to the columns that
   identify a row (``IngestTable.profiled_columns``), and counts the rows failing each check in
   that single pass. Only when a count is non-zero do the ``find_*`` queries run, to name the
   file, the row and an example value; the cost of explaining is paid by failures only.

Every problem found in a stage is reported together, each naming the file it is about, so a
user fixing a partition sees all of it at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core import contract
from pixie_assets.ingest.sql import bind, render_sql
from pixie_assets.ingest.tables import INGEST_TABLES, IngestTable, schema_mismatch


class LandingValidationError(ValueError):
    """A landing partition breaks the contract; nothing was written.

    ``problems`` holds one line per problem, each naming the file (or folder) and what is wrong.
    """

    def __init__(self, day: date, client: str, problems: Sequence[str]) -> None:
        self.day = day
        self.client = client
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"landing partition day={day.isoformat()} client={client} rejected, nothing was "
            f"ingested ({len(self.problems)} problem(s)):\n{lines}"
        )


class LandingChangedError(RuntimeError):
    """Landing files changed while being ingested; the write was rolled back, a re-run is safe."""


@dataclass(frozen=True)
class LandingFile:
    """One Parquet file as its footer describes it, with the identity it had when inspected so
    that a file replaced mid-ingestion is noticed (``fingerprint``)."""

    path: Path
    rows: int
    bytes: int
    fingerprint: tuple[int, int, int]


@dataclass(frozen=True)
class TableFiles:
    """The files of one table in one partition."""

    table: IngestTable
    folder: Path
    files: tuple[LandingFile, ...]

    @property
    def paths(self) -> list[str]:
        return [str(file.path) for file in self.files]

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    @property
    def bytes(self) -> int:
        return sum(file.bytes for file in self.files)


def partition_folder(landing_dir: Path, table: str, day: date, client: str) -> Path:
    """``<landing>/<table>/day=YYYY-MM-DD/client=<client>``, the layout of DESIGN §3."""
    return Path(landing_dir) / table / f"day={day.isoformat()}" / f"client={client}"


def check_client(day: date, client: str, configured_clients: Collection[str]) -> None:
    """Refuse a client the deployment does not know before any path is built from its name."""
    if client not in configured_clients:
        configured = ", ".join(sorted(configured_clients)) or "(none)"
        raise LandingValidationError(
            day, client, [f"client {client!r} is not configured; configured clients: {configured}"]
        )


def _fingerprint(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _list_parquet(folder: Path) -> list[Path]:
    """Data files of a partition folder. Names starting with ``.`` or ``_`` are skipped: by the
    Hadoop/Spark convention they are in-progress or marker files, not data."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.glob("*.parquet")
        if path.is_file() and not path.name.startswith((".", "_"))
    )


def _schema_problems(path: Path, schema: pa.Schema, table: IngestTable) -> list[str]:
    """Missing columns and types outside ``tables.accepts``; extra columns are ignored (a newer
    writer may add some), so they are not problems."""
    mismatch = schema_mismatch(schema, table.schema)
    problems = []
    if mismatch.missing:
        problems.append(
            f"{path}: missing column(s) {', '.join(map(repr, mismatch.missing))} of the "
            f"{table.name} contract"
        )
    problems += [
        f"{path}: column {name!r} has type {found}, expected {expected} "
        "(or a lossless widening of it)"
        for name, found, expected in mismatch.mistyped
    ]
    return problems


def inspect_partition(landing_dir: Path, day: date, client: str) -> dict[str, TableFiles]:
    """Every table's files of the partition, with their footers checked against the contract.

    Raises ``LandingValidationError`` listing every missing folder, unreadable file, missing
    column and mistyped column found."""
    problems: list[str] = []
    found: dict[str, TableFiles] = {}
    for table in INGEST_TABLES.values():
        folder = partition_folder(landing_dir, table.name, day, client)
        paths = _list_parquet(folder)
        if not paths and table.required:
            problems.append(
                f"no {table.name} files for this partition: expected *.parquet in {folder}"
            )
        files = []
        for path in paths:
            try:
                with pq.ParquetFile(path) as parquet:
                    schema = parquet.schema_arrow
                    rows = parquet.metadata.num_rows
            except (pa.ArrowException, OSError) as error:
                problems.append(
                    f"{path}: not a readable Parquet file (truncated or corrupt?): {error}"
                )
                continue
            problems.extend(_schema_problems(path, schema, table))
            files.append(LandingFile(path, rows, path.stat().st_size, _fingerprint(path)))
        found[table.name] = TableFiles(table, folder, tuple(files))
    if problems:
        raise LandingValidationError(day, client, problems)
    return found


@dataclass(frozen=True)
class RowCheck:
    """A per-row rule: ``condition`` is true for a failing row; ``column`` is shown as the example
    value; ``describe`` turns (rows, first row, example) into the problem text after the path."""

    name: str
    condition: str
    column: str
    describe: str


def _null_check(column: str) -> RowCheck:
    return RowCheck(
        name=f"null_{column}",
        condition=f"{column} IS NULL",
        column=column,
        describe=f"{{rows}} row(s) with null {column!r}, which the contract forbids "
        "(first at row {first_row})",
    )


def _row_checks(table: IngestTable) -> list[RowCheck]:
    """The row rules of a table, in the order problems are reported."""
    checks = [
        _null_check(name)
        for name in table.profiled_columns
        if not table.schema.field(name).nullable
    ]
    if table.client_in_files:
        checks.append(
            RowCheck(
                name="foreign_client",
                condition="client <> $client",
                column="client",
                describe="{rows} row(s) whose client is not the partition's {client!r} "
                "(first at row {first_row}: {example!r})",
            )
        )
    if table.time_column:
        checks.append(
            RowCheck(
                name="outside_day",
                condition=f"({table.time_column} < $day_start OR {table.time_column} >= $day_end)",
                column=table.time_column,
                describe=f"{{rows}} row(s) with {table.time_column} outside the partition's day "
                "[{day_start}, {day_end}) (first at row {first_row}: {example})",
            )
        )
    if table.action_column:
        checks.append(
            RowCheck(
                name="unknown_action",
                condition=f"NOT list_contains($actions, {table.action_column})",
                column=table.action_column,
                describe="{rows} row(s) with an action outside "
                + ", ".join(contract.ACTIONS)
                + " (first at row {first_row}: {example!r})",
            )
        )
    return checks


def _query_values(day: date, client: str) -> dict[str, Any]:
    """Values the check statements may bind; each statement takes the ones it names."""
    day_start = datetime.combine(day, time())
    return {
        "client": client,
        "day": day,
        "day_start": day_start,
        "day_end": day_start + timedelta(days=1),
        "actions": list(contract.ACTIONS),
    }


def _fetch(
    con: duckdb.DuckDBPyConnection, statement: str, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    cursor = con.execute(statement, bind(statement, values))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def profile(
    con: duckdb.DuckDBPyConnection,
    files: TableFiles,
    checks: Iterable[RowCheck],
    values: Mapping[str, Any],
) -> dict[str, int]:
    """One pass over the files: the row count, per check the failing rows and, for a keyed table,
    ``repeated_keys`` = rows − distinct key hashes. That is 0 exactly when all hashes differ,
    which proves the keys unique; a positive value (a duplicate or, rarely, a collision of the
    64-bit hash) sends the files to the exact ``find_duplicate_keys``."""
    counts = [f'count(*) FILTER (WHERE {check.condition}) AS "{check.name}"' for check in checks]
    if files.table.key:
        key = ", ".join(files.table.key)
        counts.append(f"count(*) - count(DISTINCT hash({key})) AS repeated_keys")
    statement = render_sql("profile", counts=",\n    ".join(counts))
    (row,) = _fetch(con, statement, {**values, "files": files.paths})
    return row


def _explain_rows(
    con: duckdb.DuckDBPyConnection, files: TableFiles, check: RowCheck, values: Mapping[str, Any]
) -> list[str]:
    statement = render_sql("find_rows", column=check.column, condition=check.condition)
    found = _fetch(con, statement, {**values, "files": files.paths})
    return [
        f"{hit['file']}: "
        + check.describe.format(
            rows=hit["rows"],
            first_row=hit["first_row"],
            example=hit["first_value"],
            client=values["client"],
            day_start=values["day_start"],
            day_end=values["day_end"],
        )
        for hit in found
    ]


def _explain_duplicates(
    con: duckdb.DuckDBPyConnection, files: TableFiles, values: Mapping[str, Any]
) -> list[str]:
    key = ", ".join(files.table.key)
    statement = render_sql("find_duplicate_keys", key=key)
    found = _fetch(con, statement, {**values, "files": files.paths})
    if not found:
        return []  # only a hash collision: the keys are unique after all
    (first,) = found
    example = "(" + ", ".join(repr(first[name]) for name in files.table.key) + ")"
    return [
        f"{files.folder}: {first['duplicated_keys']} ({key}) key(s) of {files.table.name} occur "
        f"more than once ({first['duplicate_rows']} rows), e.g. {example} ×{first['copies']} "
        f"in {', '.join(first['files'])}"
    ]


def find_unreadable(paths: Iterable[Path]) -> list[str]:
    """Files whose data pages cannot be decoded although their footer can (a corrupt middle);
    each is read in full with pyarrow, which is only worth doing after DuckDB failed."""
    problems = []
    for path in paths:
        try:
            pq.read_table(path)
        except (pa.ArrowException, OSError) as error:
            problems.append(f"{path}: Parquet data cannot be decoded (corrupt?): {error}")
    return problems


def check_contents(
    con: duckdb.DuckDBPyConnection, partition: Mapping[str, TableFiles], day: date, client: str
) -> dict[str, int]:
    """Null keys, duplicate keys, foreign clients, rows outside the day and unknown actions,
    across all files of each table. Returns the rows per table as DuckDB counted them."""
    values = _query_values(day, client)
    problems: list[str] = []
    rows: dict[str, int] = {}
    for name, files in partition.items():
        if not files.files:
            rows[name] = 0
            continue
        checks = _row_checks(files.table)
        try:
            counts = profile(con, files, checks, values)
        except duckdb.Error:
            # DuckDB's error for a corrupt page does not say which file; decoding each does
            unreadable = find_unreadable(file.path for file in files.files)
            if not unreadable:
                raise
            problems.extend(unreadable)
            continue
        rows[name] = counts["row_count"]
        for check in checks:
            if counts[check.name]:
                problems.extend(_explain_rows(con, files, check, values))
        if counts.get("repeated_keys"):
            problems.extend(_explain_duplicates(con, files, values))
    if problems:
        raise LandingValidationError(day, client, problems)
    return rows


def explain_nulls(
    con: duckdb.DuckDBPyConnection, files: TableFiles, day: date, client: str
) -> list[str]:
    """Which files hold nulls in any not-null column: run after the insert's NOT NULL constraint
    fired for a column the profile does not read."""
    values = _query_values(day, client)
    checks = [_null_check(name) for name in files.table.not_null_columns]
    counts = profile(con, files, checks, values)
    problems = []
    for check in checks:
        if counts[check.name]:
            problems.extend(_explain_rows(con, files, check, values))
    return problems


def ensure_unchanged(partition: Mapping[str, TableFiles]) -> None:
    """Raise ``LandingChangedError`` if a file inspected earlier was replaced, rewritten or removed,
    or a new one appeared, so that rows never validated are not committed."""
    for files in partition.values():
        now = _list_parquet(files.folder)
        if now != [file.path for file in files.files]:
            raise LandingChangedError(
                f"{files.folder}: files were added or removed during ingestion; re-run it"
            )
        for file in files.files:
            try:
                same = _fingerprint(file.path) == file.fingerprint
            except FileNotFoundError:
                same = False
            if not same:
                raise LandingChangedError(f"{file.path}: changed during ingestion; re-run it")
