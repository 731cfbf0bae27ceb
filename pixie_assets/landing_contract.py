"""The data contract as it applies to a whole landing folder: layout, schemas and row rules,
checked when landing (or replay) mode reads its inputs.

A user bringing their own data meets the project here first, so every problem found is collected
and reported together, each line naming the file (or folder) and the column, instead of failing
on the first bad file deep inside a graph build. Layout (DESIGN §3)::

    users/*.parquet   pins/*.parquet   boards/*.parquet
    saves/day=YYYY-MM-DD/[client=<c>/]*.parquet
    engagements/day=YYYY-MM-DD/[client=<c>/]*.parquet
    serving_log/day=YYYY-MM-DD/client=<c>/*.parquet
    impressions/day=YYYY-MM-DD/client=<c>/*.parquet

Type acceptance is ingestion's (``pixie_assets.ingest.tables.accepts``: exact types and lossless
widenings), so a file that reads here also ingests. Row rules run in one DuckDB pass per table,
over the files whose footers passed: null values in not-null columns, event times outside their
``day=`` folder (readers select days by folder, so a misfiled row would be seen too early or
never), actions outside the contract's list, and repeated ids in users, pins and boards (a
repeated id would multiply rows in every join). Exact duplicate engagement or save rows are
legitimate (the same action twice) and pass. The serving tables get layout and footer checks
here; their keys and rows are checked per partition by ingestion, which owns them.

Validation results are cached per set of files (path, size, modification time), so the many
``read_table`` calls of one process validate a folder once.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core import contract
from pixie_assets.core.files import write_parquet
from pixie_assets.ingest.tables import duckdb_type, schema_mismatch
from pixie_assets.ingest.validate import find_unreadable

_MICROS_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)
_SMALL_FILE_ROWS = 4096
_WRITERS = max(1, min(4, os.cpu_count() or 1))

FLAT, DAILY, DAILY_CLIENT = "flat", "daily", "daily_client"

SCHEMAS: dict[str, pa.Schema] = {
    **contract.WORLD_TABLES,
    "serving_log": contract.SERVING_LOG,
    "impressions": contract.IMPRESSIONS,
}
LAYOUT: dict[str, str] = {
    "users": FLAT,
    "pins": FLAT,
    "boards": FLAT,
    "saves": DAILY,
    "engagements": DAILY,
    "serving_log": DAILY_CLIENT,
    "impressions": DAILY_CLIENT,
}
# The tables landing and replay mode read as inputs (``sources.read_table``); all required.
SOURCE_TABLES: tuple[str, ...] = tuple(contract.WORLD_TABLES)
TIME_COLUMN: dict[str, str] = {"saves": "saved_at", "engagements": "ts", "serving_log": "ts"}
UNIQUE_KEY: dict[str, str] = {"users": "user_id", "pins": "pin_id", "boards": "board_id"}
# Tables whose rows are checked here (the serving tables' rows are ingestion's to check).
ROW_CHECKED: frozenset[str] = frozenset(SOURCE_TABLES)

_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
_CLIENT = re.compile(r"^client=([^/\\]+)$")


class LandingContractError(ValueError):
    """A landing folder breaks the data contract. ``problems`` holds one line per problem, each
    naming the file or folder and, where it is about one, the column."""

    def __init__(self, root: Path, problems: Sequence[str]) -> None:
        self.root = root
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"landing folder {root} breaks the data contract ({len(self.problems)} problem(s); "
            f"see the project README, 'Bring your own data'):\n{lines}"
        )


@dataclass(frozen=True)
class LandingFile:
    """One data file: its table, the day of its folder (None for users/pins/boards)."""

    path: Path
    table: str
    day: date | None


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


def describe_schema(table: str) -> str:
    """The contract columns of a table in SQL terms, for messages that say what was expected."""
    return ", ".join(
        f"{f.name} {duckdb_type(f.type)}{'' if f.nullable else ' NOT NULL'}" for f in SCHEMAS[table]
    )


def _is_data_file(path: Path) -> bool:
    """Parquet files; names starting with ``.`` or ``_`` are in-progress or marker files by the
    Hadoop/Spark convention (as ingestion treats them)."""
    return path.is_file() and path.suffix == ".parquet" and not path.name.startswith((".", "_"))


def _skipped(path: Path) -> bool:
    """Entries that are not data by convention: hidden or marker names (``_SUCCESS``, and the
    hidden staging folders of ``pixie_assets.core.files.staged_directory``)."""
    return path.name.startswith((".", "_"))


def _parquet_in(folder: Path, problems: list[str], table: str) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if _skipped(entry):
            continue
        if _is_data_file(entry):
            files.append(entry)
        elif entry.is_dir():
            problems.append(
                f"{entry}: unexpected folder inside {table}/ (expected *.parquet files here)"
            )
        else:
            problems.append(f"{entry}: not a *.parquet file (convert it: see the README)")
    return files


def scan_table(root: Path, table: str) -> tuple[list[LandingFile], list[str]]:
    """List a table's data files following its layout; layout problems are returned, not
    raised, so they join the one report."""
    layout = LAYOUT[table]
    folder = root / table
    problems: list[str] = []
    if not folder.is_dir():
        return [], problems
    if layout == FLAT:
        return [LandingFile(p, table, None) for p in _parquet_in(folder, problems, table)], problems
    files: list[LandingFile] = []
    for entry in sorted(folder.iterdir()):
        if _skipped(entry):
            continue
        match = _DAY.match(entry.name)
        day = None
        if match and entry.is_dir():
            try:
                day = date.fromisoformat(match[1])
            except ValueError:
                day = None
        if day is None:
            problems.append(
                f"{entry}: not a day=YYYY-MM-DD folder; {table}/ holds one folder per day"
            )
            continue
        for inner in sorted(entry.iterdir()):
            if _skipped(inner):
                continue
            if _CLIENT.match(inner.name) and inner.is_dir():
                files.extend(
                    LandingFile(p, table, day) for p in _parquet_in(inner, problems, table)
                )
            elif _is_data_file(inner) and layout == DAILY:
                files.append(LandingFile(inner, table, day))
            elif _is_data_file(inner):
                problems.append(
                    f"{inner}: {table} files belong in client=<c>/ folders inside {entry.name}/"
                )
            elif inner.is_dir():
                problems.append(f"{inner}: not a client=<c> folder")
            else:
                problems.append(f"{inner}: not a *.parquet file (convert it: see the README)")
    return files, problems


def _schema_problems(path: Path, table: str) -> list[str]:
    """Unreadable footers, missing columns and types ``accepts`` refuses; extra columns pass
    (a newer writer may add some)."""
    try:
        found = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        return [f"{path}: not a readable Parquet file (truncated or corrupt?): {error}"]
    mismatch = schema_mismatch(found, SCHEMAS[table])
    problems = [
        f"{path}: column {name!r} is missing (the {table} contract: {describe_schema(table)})"
        for name in mismatch.missing
    ]
    problems += [
        f"{path}: column {name!r} has type {actual}, expected {expected} "
        "(or a lossless widening of it)"
        for name, actual, expected in mismatch.mistyped
    ]
    return problems


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_problems(
    con: duckdb.DuckDBPyConnection, table: str, files: list[LandingFile]
) -> list[str]:
    """Null keys, rows outside their day folder and unknown actions, per file, in one pass."""
    schema = SCHEMAS[table]
    checks: list[tuple[str, str, str, str]] = []  # (name, condition, example column, message)
    for f in schema:
        if not f.nullable:
            checks.append(
                (
                    f"null_{f.name}",
                    f"{_quote(f.name)} IS NULL",
                    f.name,
                    f"{{n}} row(s) with null {f.name!r}, which the contract forbids",
                )
            )
    time_column = TIME_COLUMN.get(table)
    if time_column:
        column = _quote(time_column)
        checks.append(
            (
                "outside_day",
                f"({column} < d.day_start OR {column} >= d.day_start + INTERVAL 1 DAY)",
                time_column,
                f"{{n}} row(s) with {time_column!r} outside the folder's day {{day}} "
                "(e.g. {example})",
            )
        )
    if table == "engagements":
        actions = ", ".join(f"'{a}'" for a in contract.ACTIONS)
        checks.append(
            (
                "unknown_action",
                f"action NOT IN ({actions})",
                "action",
                "{n} row(s) with column 'action' outside " + ", ".join(contract.ACTIONS) + " "
                "(e.g. {example!r})",
            )
        )
    counts = ",\n".join(
        f"count(*) FILTER (WHERE {cond}) AS {_quote(name)}, "
        f"any_value({_quote(col)}) FILTER (WHERE {cond}) AS {_quote(name + ':example')}"
        for name, cond, col, _ in checks
    )
    days = pa.table(
        {
            "file": pa.array([str(f.path) for f in files], pa.string()),
            "day_start": pa.array(
                [datetime.combine(f.day, datetime.min.time()) if f.day else None for f in files],
                contract.TIMESTAMP,
            ),
        }
    )
    con.register("_landing_days", days)
    try:
        rows = con.execute(
            f"""
            SELECT t.filename AS file, any_value(d.day_start) AS day_start, {counts}
            FROM read_parquet($files, hive_partitioning = false, union_by_name = true,
                              filename = true) AS t
            JOIN _landing_days AS d ON d.file = t.filename
            GROUP BY t.filename ORDER BY t.filename
            """,
            {"files": [str(f.path) for f in files]},
        )
        names = [c[0] for c in rows.description]
        found = [dict(zip(names, row, strict=True)) for row in rows.fetchall()]
    finally:
        con.unregister("_landing_days")
    problems = []
    for row in found:
        for name, _, _, message in checks:
            if row[name]:
                day = row["day_start"].date().isoformat() if row["day_start"] else "?"
                problems.append(
                    f"{row['file']}: "
                    + message.format(n=row[name], day=day, example=row[name + ":example"])
                )
    return problems


def _key_problems(
    con: duckdb.DuckDBPyConnection, table: str, files: list[LandingFile]
) -> list[str]:
    """Ids of users, pins and boards must be unique across the table's files."""
    key = _quote(UNIQUE_KEY[table])
    result = con.execute(
        f"""
        WITH repeated AS (
            SELECT {key} AS id, count(*) AS copies, list(DISTINCT filename ORDER BY filename) AS fs
            FROM read_parquet($files, hive_partitioning = false, union_by_name = true,
                              filename = true)
            WHERE {key} IS NOT NULL
            GROUP BY {key} HAVING count(*) > 1
        )
        SELECT count(*), arg_max(id, copies), max(copies), arg_max(fs, copies) FROM repeated
        """,
        {"files": [str(f.path) for f in files]},
    ).fetchone()
    n, example, copies, in_files = result
    if not n:
        return []
    return [
        f"{files[0].path.parent}: {n} value(s) of column {UNIQUE_KEY[table]!r} occur more than "
        f"once in {table}, e.g. {example} ×{copies} in {', '.join(in_files)}"
    ]


def _content_problems(table: str, files: list[LandingFile]) -> list[str]:
    if not files or table not in ROW_CHECKED:
        return []
    with duckdb.connect() as con:
        try:
            problems = _row_problems(con, table, files)
            if table in UNIQUE_KEY:
                problems += _key_problems(con, table, files)
        except duckdb.Error:
            # DuckDB's error for a corrupt page need not say which file; decoding each does.
            unreadable = find_unreadable(f.path for f in files)
            if not unreadable:
                raise
            return unreadable
    return problems


def _fingerprint(files: Iterable[LandingFile]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for f in files:
        stat = f.path.stat()
        out.append((str(f.path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


Fingerprint = tuple[tuple[tuple[str, int, int], ...], ...]
_cache_lock = threading.Lock()
_validated: dict[tuple, tuple[Fingerprint, LandingInventory]] = {}


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
    problems: list[str] = []
    inventory = LandingInventory(root)
    if not root.is_dir():
        raise LandingContractError(
            root, [f"{root}: the landing folder does not exist (set PIXIE_LANDING)"]
        )
    for table in tables:
        files, layout_problems = scan_table(root, table)
        problems.extend(layout_problems)
        inventory.files[table] = files
        if not files and table in required:
            where = "*.parquet" if LAYOUT[table] == FLAT else "day=YYYY-MM-DD/…/*.parquet"
            problems.append(
                f"{root / table}/: no {table} files (expected {where} with columns "
                f"{describe_schema(table)})"
            )
    key = (str(root.resolve()), tuple(tables), tuple(required))
    try:
        fingerprint = tuple(_fingerprint(inventory.files[t]) for t in tables)
    except FileNotFoundError:
        fingerprint = None
    if use_cache and not problems and fingerprint is not None:
        with _cache_lock:
            cached = _validated.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    for table in tables:
        good = []
        for file in inventory.files[table]:
            schema_problems = _schema_problems(file.path, table)
            problems.extend(schema_problems)
            if not schema_problems:
                good.append(file)
        problems.extend(_content_problems(table, good))
    if problems:
        raise LandingContractError(root, problems)
    if use_cache and fingerprint is not None:
        with _cache_lock:
            _validated[key] = (fingerprint, inventory)
    return inventory


def clear_cache() -> None:
    """Forget earlier validations (tests that rewrite a file within one mtime tick use this)."""
    with _cache_lock:
        _validated.clear()


# --- writing the layout ---------------------------------------------------------------------


def write_landing_table(
    root: Path, table: str, data: pa.Table, client: str | None = None, name: str = "part-0"
) -> list[Path]:
    """Write ``data`` in the contract layout: one file for users/pins/boards, one file per day
    of the event time for saves/engagements (inside ``client=<client>/`` when given), so a CSV
    or warehouse export becomes a landing folder in one call. Columns are cast to the contract
    schema first, so a wrong column fails here, not at read time.

    Days come from one stable sort by event time and zero-copy slices, written a few files at a
    time: a long public log (MovieLens spans 20+ years) is thousands of day files, most of a few
    dozen rows, which are written uncompressed (compression would cost more than it saves)."""
    schema = SCHEMAS[table]
    data = data.select(schema.names).cast(schema)
    folder = root / table
    if LAYOUT[table] == FLAT:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        write_parquet(data, path)
        return [path]
    if LAYOUT[table] == DAILY_CLIENT and client is None:
        raise ValueError(f"{table} is written per client: pass client=")
    time_column = TIME_COLUMN.get(table)
    if time_column is None:
        raise ValueError(f"{table} has no event time to split by; write it per day yourself")
    days = data[time_column].cast(pa.int64()).to_numpy() // _MICROS_PER_DAY
    if len(days) and (np.diff(days) < 0).any():
        order = np.argsort(days, kind="stable")
        data, days = data.take(order), days[order]
    bounds = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64) if len(days) else bounds
    ends = np.concatenate([bounds, [len(days)]]).astype(np.int64) if len(days) else bounds
    inner = "" if client is None else f"{os.sep}client={client}"
    # plain strings, not Paths: thousands of folders, and pathlib's parsing would show
    folders = [
        os.path.join(folder, f"day={(_EPOCH + timedelta(days=int(days[i]))).isoformat()}") + inner
        for i in starts
    ]
    file_name = f"{name}.parquet"

    def write(chunk: range) -> None:
        for i in chunk:
            os.makedirs(folders[i], exist_ok=True)
            rows = data.slice(int(starts[i]), int(ends[i] - starts[i]))
            target = os.path.join(folders[i], file_name)
            if rows.num_rows < _SMALL_FILE_ROWS:
                pq.write_table(rows, target, compression="none", use_dictionary=False)
            else:
                write_parquet(rows, Path(target))

    step = max(1, -(-len(folders) // (_WRITERS * 8)))
    chunks = [range(i, min(i + step, len(folders))) for i in range(0, len(folders), step)]
    with ThreadPoolExecutor(_WRITERS) as pool:
        for done in [pool.submit(write, chunk) for chunk in chunks]:
            done.result()
    return [Path(f, file_name) for f in folders]
