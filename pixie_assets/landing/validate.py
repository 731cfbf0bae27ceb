"""Validation of landing data against the contract, for a whole folder or one partition.

A user bringing their own data meets the project here first, so every problem found is collected
and reported together in one ``LandingError``, each line naming the file (or folder) and the
column, instead of failing on the first bad file deep inside a graph build or a load.

- ``validate_landing`` checks a landing folder when landing or replay mode reads its inputs:
  layout, footers, and the row rules of the input tables (the serving tables get layout and
  footer checks; their rows are checked per partition, by ingestion). Results are cached per
  set of files (path, inode, size, modification time), so the many ``read_table`` calls of one
  process validate a folder once.
- ``inspect_partition`` and ``check_contents`` check one (day, client) partition before ingestion
  writes anything: first that each folder is marked complete (``_SUCCESS``), then the footers,
  then the rows in one DuckDB pass per table, narrowed to the columns that identify a row.
  ``ensure_unchanged`` then guards the write against files replaced meanwhile, and
  ``explain_nulls`` names the files behind a NOT NULL failure.

Both use the same listing (``layout``), footer check (``schema.check_footer``) and row rules
(``rules``), so a file is judged, and described, the same way wherever it is read.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from pixie_assets.core.sql import load_sql
from pixie_assets.landing.layout import (
    FLAT,
    LAYOUT,
    PARTITION_TABLES,
    REQUIRED_PARTITION_TABLES,
    SOURCE_TABLES,
    SUCCESS_MARKER,
    Fingerprint,
    LandingFile,
    data_files,
    fingerprint,
    glob_problem,
    is_complete,
    leaf_contents,
    partition_dir,
    scan_table,
)
from pixie_assets.landing.rules import (
    IDENTIFYING_COLUMNS,
    check_rows,
    null_checks,
    row_checks,
)
from pixie_assets.landing.schema import SCHEMAS, check_footer, describe_schema


class LandingError(ValueError):
    """Landing data breaks the contract. ``problems`` holds one line per problem, each naming
    the file or folder and, where it is about one, the column."""

    def __init__(self, headline: str, problems: Sequence[str], hint: str = "") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{headline} ({len(self.problems)} problem(s){hint}):\n{lines}")


class LandingContractError(LandingError):
    """A landing folder breaks the data contract."""

    def __init__(self, root: Path, problems: Sequence[str]) -> None:
        self.root = root
        super().__init__(
            f"landing folder {root} breaks the data contract",
            problems,
            hint="; see the project README, 'Bring your own data'",
        )


class LandingValidationError(LandingError):
    """A landing partition breaks the contract; nothing was ingested."""

    def __init__(self, day: date, client: str, problems: Sequence[str]) -> None:
        self.day = day
        self.client = client
        super().__init__(
            f"landing partition day={day.isoformat()} client={client} rejected, nothing was "
            "ingested",
            problems,
        )


class PartitionIncompleteError(LandingValidationError):
    """A folder of the partition has no ``_SUCCESS`` marker: its writer has not finished (or
    died), so its files may be half written; nothing was ingested. A refused partition like any
    other for its callers, but not a contract breach: ingest again once the writer has written
    the marker (the landing sensor does so by itself)."""

    def __init__(self, day: date, client: str, problems: Sequence[str]) -> None:
        self.day = day
        self.client = client
        LandingError.__init__(
            self,
            f"landing partition day={day.isoformat()} client={client} is not complete, nothing "
            "was ingested",
            problems,
            hint=f"; a writer marks a finished folder with an empty {SUCCESS_MARKER} file",
        )


class PartitionShrinkError(LandingValidationError):
    """Loading the landing files would shrink a loaded partition by more than the allowed
    fraction (to zero, say, from an empty or missing file); nothing was changed. A deliberate
    shrink is an explicit override (``allow_shrink``)."""


class LandingChangedError(LandingError, RuntimeError):
    """Landing files changed while being ingested; the write was rolled back, a re-run is safe
    (a ``RuntimeError`` too: the data may be fine, the timing was not)."""

    def __init__(self, problem: str) -> None:
        super().__init__("landing files changed during ingestion, rolled back", [problem])


# --- a whole landing folder -------------------------------------------------------------------


@dataclass
class LandingInventory:
    """The data files of each table of a landing folder, as validated."""

    root: Path
    files: dict[str, list[LandingFile]] = field(default_factory=dict)

    def paths(self, table: str, before: date | None = None) -> list[Path]:
        """Files of ``table`` (of days before ``before`` for day-partitioned tables)."""
        return [
            file.path
            for file in self.files.get(table, [])
            if before is None or file.day is None or file.day < before
        ]


def _missing_table(root: Path, table: str) -> str:
    where = "*.parquet" if LAYOUT[table] == FLAT else "day=YYYY-MM-DD/…/*.parquet"
    return (
        f"{root / table}/: no {table} files (expected {where} with columns "
        f"{describe_schema(table)})"
    )


def _folder_rows(
    con: duckdb.DuckDBPyConnection, root: Path, table: str, files: list[LandingFile]
) -> list[str]:
    """The row rules of an input table over its files whose footers passed."""
    if not files or table not in SOURCE_TABLES:
        return []
    checks = row_checks(table, SCHEMAS[table].names, client=None)
    return check_rows(con, table, files, checks, folder=root / table, scope="folder").problems


_FolderFingerprint = tuple[tuple[tuple[str, Fingerprint], ...], ...]
_cache_lock = threading.Lock()
_validated: dict[tuple, tuple[_FolderFingerprint, LandingInventory]] = {}


def _folder_fingerprint(
    inventory: LandingInventory, tables: Sequence[str]
) -> _FolderFingerprint | None:
    """The identity of every listed file, or None if one vanished since it was listed."""
    try:
        return tuple(
            tuple((str(file.path), fingerprint(file.path)) for file in inventory.files[table])
            for table in tables
        )
    except FileNotFoundError:
        return None


def validate_landing(
    root: Path,
    tables: Sequence[str] = SOURCE_TABLES,
    required: Sequence[str] | None = None,
    use_cache: bool = True,
) -> LandingInventory:
    """Check ``tables`` of the landing folder ``root`` against the contract and list their files.

    ``required`` tables (default: all of ``tables`` that are inputs, i.e. ``SOURCE_TABLES``) must
    hold at least one file; a day without events simply has no folder (or an empty one). Raises
    ``LandingContractError`` with every problem found; returns the inventory otherwise."""
    root = Path(root)
    required = [t for t in tables if t in SOURCE_TABLES] if required is None else list(required)
    if not root.is_dir():
        raise LandingContractError(
            root, [f"{root}: the landing folder does not exist (set PIXIE_LANDING)"]
        )
    problems: list[str] = []
    inventory = LandingInventory(root)
    for table in tables:
        scan = scan_table(root, table)
        problems += scan.problems
        unsafe = {f.path: problem for f in scan.files if (problem := glob_problem(f.path))}
        problems += unsafe.values()
        inventory.files[table] = [f for f in scan.files if f.path not in unsafe]
        if not scan.files and table in required:
            problems.append(_missing_table(root, table))
    key = (str(root.resolve()), tuple(tables), tuple(required))
    identity = _folder_fingerprint(inventory, tables)
    if use_cache and not problems and identity is not None:
        with _cache_lock:
            cached = _validated.get(key)
        if cached is not None and cached[0] == identity:
            return cached[1]
    with duckdb.connect() as con:
        for table in tables:
            readable = []
            for file in inventory.files[table]:
                footer = check_footer(file.path, table).problems
                problems += footer
                if not footer:
                    readable.append(file)
            problems += _folder_rows(con, root, table, readable)
    if problems:
        raise LandingContractError(root, problems)
    if use_cache and identity is not None:
        with _cache_lock:
            _validated[key] = (identity, inventory)
    return inventory


# --- one (day, client) partition --------------------------------------------------------------


@dataclass(frozen=True)
class TableFiles:
    """The data files of one table in one partition, with what their footers said (rows) and
    their identity when inspected, so that a file replaced mid-ingestion is noticed."""

    table: str
    folder: Path
    files: tuple[LandingFile, ...]
    footer_rows: int
    fingerprints: tuple[Fingerprint, ...]

    @property
    def paths(self) -> list[str]:
        return [str(file.path) for file in self.files]

    @property
    def bytes(self) -> int:
        return sum(size for _, size, _ in self.fingerprints)


def check_client(day: date, client: str, configured_clients: Collection[str]) -> None:
    """Refuse a client the deployment does not know before any path is built from its name."""
    if client not in configured_clients:
        configured = ", ".join(sorted(configured_clients)) or "(none)"
        raise LandingValidationError(
            day, client, [f"client {client!r} is not configured; configured clients: {configured}"]
        )


def _inspect_table(
    landing_dir: Path, table: str, day: date, client: str, problems: list[str]
) -> TableFiles:
    folder = partition_dir(landing_dir, table, day, client)
    paths, strays = leaf_contents(folder, table)
    problems += strays
    unsafe = [problem for problem in map(glob_problem, paths) if problem]
    if unsafe:
        problems += unsafe
        return TableFiles(table, folder, (), 0, ())
    if not paths and table in REQUIRED_PARTITION_TABLES:
        problems.append(f"no {table} files for this partition: expected *.parquet in {folder}")
    files, rows, identities = [], 0, []
    for path in paths:
        footer = check_footer(path, table)
        problems += footer.problems
        if footer.rows is None:
            continue
        files.append(LandingFile(path, table, day, client))
        rows += footer.rows
        identities.append(fingerprint(path))
    return TableFiles(table, folder, tuple(files), rows, tuple(identities))


def ensure_complete(landing_dir: Path, day: date, client: str) -> None:
    """Raise ``PartitionIncompleteError`` naming each folder of the partition that exists but has
    no ``_SUCCESS`` marker, before any file of it is read: a half-written file would otherwise
    be reported as corrupt, or a partly written folder loaded as if it were whole. A missing
    required folder is left to ``inspect_partition``, which names what it expected there."""
    problems = [
        f"{folder}: no {SUCCESS_MARKER} marker, its writer has not finished"
        for table in PARTITION_TABLES
        if (folder := partition_dir(landing_dir, table, day, client)).is_dir()
        and not is_complete(folder)
    ]
    if problems:
        raise PartitionIncompleteError(day, client, problems)


def inspect_partition(landing_dir: Path, day: date, client: str) -> dict[str, TableFiles]:
    """Every table's files of the partition, with their footers checked against the contract.

    Raises ``PartitionIncompleteError`` first if a folder lacks its ``_SUCCESS`` marker, then
    ``LandingValidationError`` listing every missing folder, unreadable file, missing column
    and mistyped column found."""
    ensure_complete(Path(landing_dir), day, client)
    problems: list[str] = []
    found = {
        table: _inspect_table(Path(landing_dir), table, day, client, problems)
        for table in PARTITION_TABLES
    }
    if problems:
        raise LandingValidationError(day, client, problems)
    return found


def check_contents(
    con: duckdb.DuckDBPyConnection, partition: Mapping[str, TableFiles], day: date, client: str
) -> dict[str, int]:
    """Null and duplicate keys, foreign clients, rows outside the day and unknown actions,
    across all files of each table. Returns the rows per table as DuckDB counted them."""
    problems: list[str] = []
    rows: dict[str, int] = {}
    for name, files in partition.items():
        rows[name] = 0
        if not files.files:
            continue
        checks = row_checks(name, IDENTIFYING_COLUMNS[name], client)
        report = check_rows(
            con, name, files.files, checks, folder=files.folder, scope="partition", client=client
        )
        problems += report.problems
        rows[name] = report.rows or 0
    if not problems:
        problems += _orphan_impressions(con, partition)
    if problems:
        raise LandingValidationError(day, client, problems)
    return rows


def _orphan_impressions(
    con: duckdb.DuckDBPyConnection, partition: Mapping[str, TableFiles]
) -> list[str]:
    """Impressions of (request_id, pin_id) pairs absent from the partition's serving_log, one
    line per impressions file with the first such row."""
    impressions, serving_log = partition["impressions"], partition["serving_log"]
    if not impressions.files or not serving_log.files:
        return []
    found = con.execute(
        load_sql("landing/orphan_impressions"),
        {"impressions": impressions.paths, "serving_log": serving_log.paths},
    ).fetchall()
    return [
        f"{file}: {rows} impression(s) of (request_id, pin_id) pairs absent from the partition's "
        f"serving_log (first at row {first_row}: {example})"
        for file, rows, first_row, example in found
    ]


def explain_nulls(con: duckdb.DuckDBPyConnection, files: TableFiles) -> list[str]:
    """Which files hold nulls in any not-null column: run after the insert's NOT NULL constraint
    fired for a column the profile does not read."""
    checks = null_checks(f.name for f in SCHEMAS[files.table] if not f.nullable)
    return check_rows(
        con, files.table, files.files, checks, folder=files.folder, scope="partition", keyed=False
    ).problems


def ensure_unchanged(partition: Mapping[str, TableFiles]) -> None:
    """Raise ``LandingChangedError`` if a file inspected earlier was replaced, rewritten or removed,
    or a new one appeared, so that rows never validated are not committed."""
    for files in partition.values():
        if data_files(files.folder) != [file.path for file in files.files]:
            raise LandingChangedError(
                f"{files.folder}: files were added or removed during ingestion; re-run it"
            )
        for file, inspected in zip(files.files, files.fingerprints, strict=True):
            try:
                same = fingerprint(file.path) == inspected
            except FileNotFoundError:
                same = False
            if not same:
                raise LandingChangedError(f"{file.path}: changed during ingestion; re-run it")
