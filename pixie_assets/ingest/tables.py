"""The DuckDB table each serving table is loaded into.

Derived from ``pixie_assets.core.contract`` so that a column added there (a new feature, say)
flows into the DuckDB DDL without a second list to keep in step. What a landing file must be to
get here (types, row rules) is ``pixie_assets.landing``'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pixie_assets.core import contract
from pixie_assets.landing import duckdb_type


@dataclass(frozen=True)
class IngestTable:
    """One serving table as stored in DuckDB: the contract's columns plus the partition columns
    the files do not carry."""

    name: str
    schema: pa.Schema

    @property
    def client_in_files(self) -> bool:
        """Whether the files carry the client (serving_log, engagements) or the DuckDB table
        gets it from the partition (impressions)."""
        return "client" in self.schema.names

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
    name: IngestTable(name, schema) for name, schema in contract.SERVING_TABLES.items()
}
