"""What ingestion knows about each serving table: its contract schema, key, the checks that apply
and the DuckDB table it lands in.

Everything is derived from ``pixie_assets.core.contract`` so that a column added there (a new
feature, say) flows into validation and into the DuckDB DDL without a second list to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pixie_assets.core import contract

# The key that must be unique within a partition of serving_log and of impressions (DESIGN §3).
KEY_COLUMNS: tuple[str, str] = ("request_id", "pin_id")

_DUCKDB_TYPES: dict[pa.DataType, str] = {
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
    contract.TIMESTAMP: "TIMESTAMP",
}

# Lossless widenings accepted in landing files: every value of the found type is exactly
# representable in the contract type, so the cast on insert can neither fail nor change a value.
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
    """How a file's schema falls short of a contract schema under ``accepts``: the columns it
    lacks and those whose type is not accepted, as (name, found, expected). Extra columns are
    not mismatches (a newer writer may add some)."""

    missing: list[str]
    mistyped: list[tuple[str, pa.DataType, pa.DataType]]


def schema_mismatch(found: pa.Schema, expected: pa.Schema) -> SchemaMismatch:
    missing = [f.name for f in expected if f.name not in found.names]
    mistyped = [
        (f.name, found.field(f.name).type, f.type)
        for f in expected
        if f.name in found.names and not accepts(f.type, found.field(f.name).type, f.nullable)
    ]
    return SchemaMismatch(missing, mistyped)


@dataclass(frozen=True)
class IngestTable:
    """One serving table as ingestion sees it.

    ``client_in_files`` says whether the files carry the client (checked against the partition's)
    or the DuckDB table gets it from the partition; ``required`` whether a partition must have
    files. ``profiled_columns`` are the only columns the one-pass profile reads and null-checks:
    what identifies a row (key, partition columns, action). Nulls in the other columns are caught
    by the NOT NULL constraints the insert enforces anyway, so checking them costs no extra read.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    profiled_columns: tuple[str, ...]
    client_in_files: bool
    time_column: str | None
    action_column: str | None
    required: bool

    @property
    def not_null_columns(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.schema if not field.nullable)

    @property
    def stored_columns(self) -> tuple[tuple[str, str, bool], ...]:
        """(name, DuckDB type, nullable) of the DuckDB table: the contract's columns, then the
        partition columns the files do not carry (``day`` always, ``client`` for impressions)."""
        columns = [(field.name, duckdb_type(field.type), field.nullable) for field in self.schema]
        columns.append(("day", "DATE", False))
        if not self.client_in_files:
            columns.append(("client", "VARCHAR", False))
        return tuple(columns)


INGEST_TABLES: dict[str, IngestTable] = {
    "serving_log": IngestTable(
        name="serving_log",
        schema=contract.SERVING_TABLES["serving_log"],
        key=KEY_COLUMNS,
        profiled_columns=("request_id", "pin_id", "client", "ts"),
        client_in_files=True,
        time_column="ts",
        action_column=None,
        required=True,
    ),
    "impressions": IngestTable(
        name="impressions",
        schema=contract.SERVING_TABLES["impressions"],
        key=KEY_COLUMNS,
        profiled_columns=("request_id", "pin_id"),
        client_in_files=False,
        time_column=None,
        action_column=None,
        required=True,
    ),
    "engagements": IngestTable(
        name="engagements",
        schema=contract.SERVING_TABLES["engagements"],
        key=(),
        profiled_columns=("user_id", "pin_id", "action", "client", "ts"),
        client_in_files=True,
        time_column="ts",
        action_column="action",
        required=False,
    ),
}


def _check_specs() -> None:
    """Fail at import, not mid-ingestion, if a spec and the contract disagree."""
    if set(INGEST_TABLES) != set(contract.SERVING_TABLES):
        raise RuntimeError("ingestion must cover exactly contract.SERVING_TABLES")
    for table in INGEST_TABLES.values():
        wanted = [*table.key, table.time_column, table.action_column]
        wanted += ["client"] if table.client_in_files else []
        for name in filter(None, wanted):
            if name not in table.profiled_columns:
                raise RuntimeError(f"{table.name}: the profile must read {name!r}")
        for name in table.profiled_columns:
            if name not in table.schema.names:
                raise RuntimeError(f"{table.name}: {name!r} is not a contract column")


_check_specs()
