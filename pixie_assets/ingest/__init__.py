"""Ingestion of serving logs: one landing partition (day, client) of serving_log, impressions and
engagements, validated against the contract and loaded into DuckDB atomically.

Pure domain code (no Dagster): the asset wraps ``ingest_partition`` and reports its
``IngestReport.as_dict()`` as metadata.
"""

from pixie_assets.ingest.load import (
    DEFAULT_DUCKDB_CONFIG,
    DuckDBTableMismatchError,
    IngestReport,
    ingest_partition,
    read_partition_counts,
)
from pixie_assets.ingest.tables import INGEST_TABLES, IngestTable, accepts
from pixie_assets.ingest.validate import (
    LandingChangedError,
    LandingValidationError,
    partition_folder,
)

__all__ = [
    "DEFAULT_DUCKDB_CONFIG",
    "INGEST_TABLES",
    "DuckDBTableMismatchError",
    "IngestReport",
    "IngestTable",
    "LandingChangedError",
    "LandingValidationError",
    "accepts",
    "ingest_partition",
    "partition_folder",
    "read_partition_counts",
]
