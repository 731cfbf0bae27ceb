"""Ingestion of serving logs: one landing partition (day, client) of serving_log, impressions and
engagements, validated against the contract (``pixie_assets.landing``) and loaded into DuckDB
atomically.

Pure domain code (no Dagster): the asset wraps ``ingest_partition`` and reports its
``IngestReport.as_dict()`` as metadata. The errors it raises for bad or changing landing files
(``LandingValidationError``, ``LandingChangedError``) are ``pixie_assets.landing``'s.
"""

from pixie_assets.ingest.load import (
    DEFAULT_DUCKDB_CONFIG,
    DuckDBTableMismatchError,
    IngestReport,
    ingest_partition,
    read_partition_counts,
)
from pixie_assets.ingest.tables import INGEST_TABLES, IngestTable

__all__ = [
    "DEFAULT_DUCKDB_CONFIG",
    "INGEST_TABLES",
    "DuckDBTableMismatchError",
    "IngestReport",
    "IngestTable",
    "ingest_partition",
    "read_partition_counts",
]
