"""The row rules of the data contract, defined once and checked in DuckDB.

A rule is data: a name, whose SQL condition (true for a row breaking it) is
``sql/landing/rules/<name>.sql``, and the message that explains a failure. Folder validation and
partition validation apply the same rules to the same files through the same statements
(``sql/landing/profile.sql``, ``find_rows.sql``, ``find_duplicate_keys.sql``); they differ only in
which columns are null-checked and whether the rows must belong to one client.

Checking costs one read of a table's files when the data is good: ``profile.sql`` counts, per
rule, the rows breaking it, and only a non-zero count runs the queries that name the file, the
first failing row and an example value. Values (the files, their days, the client, the actions)
are bound as ``$parameters``; only identifiers and the rules' conditions are formatted in.

The rules: no null in a NOT NULL column; event times inside the day of their ``day=`` folder;
rows of the partition's client only; actions from the contract's list; and keys that identify a
row (ids of users, pins and boards; ``(request_id, pin_id)`` of serving_log and impressions).
Exact duplicate engagement or save rows are legitimate (the same action twice) and pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core import contract
from pixie_assets.core.sql import bind, render_sql
from pixie_assets.landing.layout import LandingFile
from pixie_assets.landing.schema import SCHEMAS


@dataclass(frozen=True)
class RowRule:
    """A per-row rule. ``message`` is formatted with the failing rows' count (``rows``), the first
    failing row (``first_row``) and its value (``example``), the ``column``, the file's ``day``,
    the ``client`` and the ``scope`` being validated ("folder" or "partition")."""

    name: str
    message: str


NOT_NULL = RowRule(
    "not_null",
    "{rows} row(s) with null {column!r}, which the contract forbids (first at row {first_row})",
)
OWN_CLIENT = RowRule(
    "own_client",
    "{rows} row(s) whose client is not the {scope}'s {client!r} "
    "(first at row {first_row}: {example!r})",
)
IN_FOLDER_DAY = RowRule(
    "in_folder_day",
    "{rows} row(s) with {column} outside the {scope}'s day {day} "
    "(first at row {first_row}: {column!r} = {example})",
)
FINITE = RowRule(
    "finite",
    "{rows} row(s) with NaN or infinite {column!r}, which would poison training "
    "(first at row {first_row}: {example})",
)
KNOWN_ACTION = RowRule(
    "known_action",
    "{rows} row(s) with an action outside "
    + ", ".join(contract.ACTIONS)
    + " (first at row {first_row}: {column!r} = {example!r})",
)

# Which column each rule reads, per table.
TIME_COLUMN: dict[str, str] = {"saves": "saved_at", "engagements": "ts", "serving_log": "ts"}
ACTION_COLUMN: dict[str, str] = {"engagements": "action"}
# The columns whose values identify a row: unique across a table's files (users, pins, boards)
# or across a partition's (serving_log, impressions: docs/architecture.md §3).
KEY: dict[str, tuple[str, ...]] = {
    "users": ("user_id",),
    "pins": ("pin_id",),
    "boards": ("board_id",),
    "serving_log": ("request_id", "pin_id"),
    "impressions": ("request_id", "pin_id"),
}
# What partition validation null-checks before the insert: the columns that identify a row (key,
# client, time, action; who engaged with what). A null elsewhere (a feature, a score) fails the
# insert's NOT NULL constraint instead and is explained afterwards (``explain_nulls``).
IDENTIFYING_COLUMNS: dict[str, tuple[str, ...]] = {
    "serving_log": ("request_id", "pin_id", "client", "ts"),
    "impressions": ("request_id", "pin_id"),
    "engagements": ("user_id", "pin_id", "action", "client", "ts"),
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Check:
    """One rule applied to one column."""

    rule: RowRule
    column: str

    @property
    def label(self) -> str:
        """The name of its count in the profile."""
        return f"{self.rule.name}:{self.column}"

    @property
    def condition(self) -> str:
        text = render_sql(f"landing/rules/{self.rule.name}", column=_quote(self.column))
        return " ".join(line for line in text.splitlines() if not line.startswith("--"))

    def describe(self, hit: Mapping[str, Any], file: LandingFile, scope: str) -> str:
        day = file.day.isoformat() if file.day else "?"
        return f"{hit['file']}: " + self.rule.message.format(
            rows=hit["rows"],
            first_row=hit["first_row"],
            example=hit["first_value"],
            column=self.column,
            day=day,
            client=file.client,
            scope=scope,
        )


def null_checks(columns: Iterable[str]) -> list[Check]:
    return [Check(NOT_NULL, column) for column in columns]


def row_checks(table: str, null_checked: Iterable[str], client: str | None) -> list[Check]:
    """The rules of ``table`` in the order problems are reported: nulls among ``null_checked``
    (those the contract declares NOT NULL), then, where they apply, rows of another client than
    ``client`` (when given), rows outside their folder's day, unknown actions and NaN or infinite
    floats."""
    schema = SCHEMAS[table]
    checks = null_checks(name for name in null_checked if not schema.field(name).nullable)
    if client is not None and "client" in schema.names:
        checks.append(Check(OWN_CLIENT, "client"))
    if table in TIME_COLUMN:
        checks.append(Check(IN_FOLDER_DAY, TIME_COLUMN[table]))
    if table in ACTION_COLUMN:
        checks.append(Check(KNOWN_ACTION, ACTION_COLUMN[table]))
    checks += [Check(FINITE, f.name) for f in schema if pa.types.is_floating(f.type)]
    return checks


def _fetch(
    con: duckdb.DuckDBPyConnection, statement: str, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    cursor = con.execute(statement, bind(statement, values))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _values(files: Sequence[LandingFile], client: str | None) -> dict[str, Any]:
    """Everything the statements may bind; each takes the ones it names."""
    return {
        "files": [str(file.path) for file in files],
        "file_days": [file.day for file in files],
        "client": client,
        "actions": list(contract.ACTIONS),
    }


def _profile(
    con: duckdb.DuckDBPyConnection,
    checks: Sequence[Check],
    key: Sequence[str],
    values: Mapping[str, Any],
) -> dict[str, int]:
    """One pass: rows, failing rows per check and, for a key, ``repeated_keys`` = rows − distinct
    key hashes. That is 0 exactly when all hashes differ, which proves the keys unique; a positive
    value (a duplicate, a null key or, rarely, a collision of the 64-bit hash) sends the files to
    the exact ``find_duplicate_keys``."""
    counts = [f"count(*) FILTER (WHERE {c.condition}) AS {_quote(c.label)}" for c in checks]
    if key:
        counts.append(f"count(*) - count(DISTINCT hash({_key_list(key)})) AS repeated_keys")
    statement = render_sql("landing/profile", counts="".join(f",\n    {c}" for c in counts))
    (row,) = _fetch(con, statement, values)
    return row


def _key_list(key: Sequence[str]) -> str:
    return ", ".join(map(_quote, key))


def _explain_rows(
    con: duckdb.DuckDBPyConnection,
    check: Check,
    files: Sequence[LandingFile],
    values: Mapping[str, Any],
    scope: str,
) -> list[str]:
    statement = render_sql(
        "landing/find_rows", column=_quote(check.column), condition=check.condition
    )
    by_path = {str(file.path): file for file in files}
    return [
        check.describe(hit, by_path[hit["file"]], scope) for hit in _fetch(con, statement, values)
    ]


def _explain_duplicates(
    con: duckdb.DuckDBPyConnection, table: str, folder: Path, values: Mapping[str, Any]
) -> list[str]:
    key = KEY[table]
    statement = render_sql(
        "landing/find_duplicate_keys",
        key=_key_list(key),
        key_present=" AND ".join(f"{_quote(name)} IS NOT NULL" for name in key),
    )
    found = _fetch(con, statement, values)
    if not found:
        return []  # only nulls or a hash collision: the keys are unique after all
    (first,) = found
    example = "(" + ", ".join(repr(first[name]) for name in key) + ")"
    return [
        f"{folder}: {first['duplicated_keys']} ({', '.join(key)}) key(s) of {table} occur more "
        f"than once ({first['duplicate_rows']} rows), e.g. {example} ×{first['copies']} in "
        f"{', '.join(first['files'])}; column(s) {', '.join(map(repr, key))} must identify a row"
    ]


@dataclass(frozen=True)
class RowReport:
    """The rows DuckDB counted in a table's files (None when they could not be read) and every
    problem found, one line each."""

    rows: int | None
    problems: list[str]


def distrust_file_statistics(con: duckdb.DuckDBPyConnection) -> None:
    """Make the rules read the values, not the files' own min/max statistics. Parquet writers
    leave NaN out of those statistics, and DuckDB's statistics propagation then proves
    ``isnan(x)`` false without reading a row; a validator must not take the file's word."""
    con.execute("SET disabled_optimizers = 'statistics_propagation'")


def check_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    files: Sequence[LandingFile],
    checks: Sequence[Check],
    *,
    folder: Path,
    scope: str,
    client: str | None = None,
    keyed: bool = True,
) -> RowReport:
    """Apply ``checks`` (and, when ``keyed``, the table's key) to ``files`` of ``table``, all in
    ``folder``; ``scope`` names what is validated in the messages."""
    key = KEY.get(table, ()) if keyed else ()
    values = _values(files, client)
    distrust_file_statistics(con)
    try:
        counts = _profile(con, checks, key, values)
        problems = []
        for check in checks:
            if counts[check.label]:
                problems += _explain_rows(con, check, files, values, scope)
        if counts.get("repeated_keys"):
            problems += _explain_duplicates(con, table, folder, values)
    except duckdb.Error:
        # DuckDB's error for a corrupt page need not say which file; decoding each does.
        unreadable = find_unreadable(file.path for file in files)
        if not unreadable:
            raise
        return RowReport(None, unreadable)
    return RowReport(counts["row_count"], problems)


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


def _check_rules() -> None:
    """Fail at import, not mid-validation, if the rules name a column the contract lacks."""
    columns = [*TIME_COLUMN.items(), *ACTION_COLUMN.items()]
    columns += [(table, name) for table, names in KEY.items() for name in names]
    columns += [(table, name) for table, names in IDENTIFYING_COLUMNS.items() for name in names]
    for table, name in columns:
        if name not in SCHEMAS[table].names:
            raise RuntimeError(f"{table}: {name!r} is not a contract column")
    for table, names in IDENTIFYING_COLUMNS.items():
        client = ["client"] if "client" in SCHEMAS[table].names else []
        wanted = [*KEY.get(table, ()), TIME_COLUMN.get(table), ACTION_COLUMN.get(table), *client]
        for name in filter(None, wanted):
            if name not in names:
                raise RuntimeError(f"{table}: partition validation must null-check {name!r}")


_check_rules()
