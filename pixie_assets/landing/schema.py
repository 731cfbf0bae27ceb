"""The contract's schemas as landing files must meet them, and the one footer check.

A file's columns are checked from its Parquet footer alone, before any data is read. The type rule
(``accepts``) lives here once, beside the schemas, so that what validation lets through is exactly
what ingestion and ``sources.read_table`` can cast losslessly to the contract; folder validation,
partition validation and the ``world`` asset check all report schema problems through
``check_footer``, with one set of messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core import contract

# Every table of the landing folder: the world's inputs, then what serving writes.
SCHEMAS: dict[str, pa.Schema] = {**contract.WORLD_TABLES, **contract.SERVING_TABLES}

_DUCKDB_TYPES: dict[pa.DataType, str] = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    contract.TIMESTAMP: "TIMESTAMP",
}

# Lossless widenings accepted in landing files: every value of the found type is exactly
# representable in the contract type, so the cast on read can neither fail nor change a value.
_WIDER_INTEGERS: dict[pa.DataType, tuple[pa.DataType, ...]] = {
    pa.int64(): (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16(), pa.uint32()),
    pa.int32(): (pa.int8(), pa.int16(), pa.uint8(), pa.uint16()),
}
_STRING_TYPES: tuple[pa.DataType, ...] = (pa.string(), pa.large_string(), pa.string_view())


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB column type storing a contract type."""
    try:
        return _DUCKDB_TYPES[arrow_type]
    except KeyError:
        raise TypeError(f"no DuckDB type for contract type {arrow_type}") from None


def accepts(expected: pa.DataType, found: pa.DataType, nullable: bool) -> bool:
    """Whether a landing column of type ``found`` may fill a contract column of type ``expected``.

    Accepted: the exact type; lossless integer widening (int8/16/32 and uint8/16/32 into int64,
    int8/16 and uint8/16 into int32); float32 into float64; the other Arrow string layouts;
    dictionary-encoded values of an accepted type; naive timestamps of any unit (s and ms widen
    losslessly; ns, which pandas writes by default, is truncated to µs, below the resolution of
    any event this project logs); and the all-null ``null`` type for a nullable column, which is
    what a writer infers for a column that happens to hold no values.

    Rejected: anything lossy or reinterpreting (int64 into int32, double into an integer, integer
    into double, strings holding numbers, uint64) and timezone-aware timestamps, whose conversion
    to the contract's naive UTC time would depend on the reader's session time zone.
    """
    if found == expected:
        return True
    if pa.types.is_dictionary(found):
        return accepts(expected, found.value_type, nullable)
    if pa.types.is_null(found):
        return nullable
    if expected in _WIDER_INTEGERS:
        return found in _WIDER_INTEGERS[expected]
    if expected == pa.float64():
        return found == pa.float32()
    if expected == pa.string():
        return found in _STRING_TYPES
    if pa.types.is_timestamp(expected):
        return pa.types.is_timestamp(found) and found.tz is None
    return False


@dataclass(frozen=True)
class SchemaMismatch:
    """How a file's schema falls short of a contract schema: the columns it lacks, those whose
    type is refused, as (name, found, expected), and (only when compared exactly) the columns
    the contract does not have."""

    missing: list[str]
    mistyped: list[tuple[str, pa.DataType, pa.DataType]]
    extra: list[str]


def schema_mismatch(found: pa.Schema, expected: pa.Schema, exact: bool = False) -> SchemaMismatch:
    """Compare under ``accepts``, where extra columns pass (a newer writer may add some); or,
    ``exact``, demand the contract's very types and no other column (for files this project
    wrote itself)."""

    def refused(field: pa.Field) -> bool:
        actual = found.field(field.name).type
        return actual != field.type if exact else not accepts(field.type, actual, field.nullable)

    present = [f for f in expected if f.name in found.names]
    return SchemaMismatch(
        missing=[f.name for f in expected if f.name not in found.names],
        mistyped=[(f.name, found.field(f.name).type, f.type) for f in present if refused(f)],
        extra=[name for name in found.names if name not in expected.names] if exact else [],
    )


def declaration(field: pa.Field) -> str:
    """A contract column in SQL terms, e.g. ``pin_id BIGINT NOT NULL``."""
    return f"{field.name} {duckdb_type(field.type)}{'' if field.nullable else ' NOT NULL'}"


def describe_schema(table: str) -> str:
    """The contract columns of a table in SQL terms, for messages that say what was expected."""
    return ", ".join(declaration(field) for field in SCHEMAS[table])


@dataclass(frozen=True)
class FooterCheck:
    """What a file's footer said: its row count (None when unreadable) and its problems."""

    rows: int | None
    problems: list[str]


def check_footer(path: Path, table: str, exact: bool = False) -> FooterCheck:
    """Read only the footer of ``path`` and compare its schema with ``table``'s contract
    (``schema_mismatch``); every problem is one line naming the file and the column."""
    try:
        with pq.ParquetFile(path) as parquet:
            found, rows = parquet.schema_arrow, parquet.metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        return FooterCheck(
            None, [f"{path}: not a readable Parquet file (truncated or corrupt?): {error}"]
        )
    mismatch = schema_mismatch(found, SCHEMAS[table], exact)
    return FooterCheck(rows, _mismatch_problems(path, table, mismatch, exact))


def _mismatch_problems(path: Path, table: str, mismatch: SchemaMismatch, exact: bool) -> list[str]:
    problems = []
    if mismatch.missing:
        wanted = {field.name: field for field in SCHEMAS[table]}
        problems.append(
            f"{path}: missing column(s) {', '.join(map(repr, mismatch.missing))} of the {table} "
            "contract; "
            + "; ".join(
                f"column {name!r} is missing (expected {declaration(wanted[name])})"
                for name in mismatch.missing
            )
        )
    widening = "" if exact else " (or a lossless widening of it)"
    problems += [
        f"{path}: column {name!r} has type {found}, expected {expected}{widening}"
        for name, found, expected in mismatch.mistyped
    ]
    problems += [
        f"{path}: unexpected column {name!r}, not in the {table} contract"
        for name in mismatch.extra
    ]
    return problems
