"""The landing folder: where an online service (or world mode's simulator) drops its files, and
the data contract as it applies to them. One package serves everyone who touches those files:

- ``layout``: the folder layout and the one listing of data files (``scan_table``,
  ``data_files``), with the one ``LandingFile`` type; the ``_SUCCESS`` convention
  (``is_complete``) and the partitions ready to ingest (``scan_partitions``);
- ``schema``: the contract schemas, the type rule (``accepts``) and the footer check;
- ``rules``: the row rules and their SQL (``sql/landing/``);
- ``validate``: folder validation (landing/replay inputs) and partition validation (ingestion),
  raising one family of errors (``LandingError``);
- ``write``: writing the layout;
- ``sources`` (imported by name): where each contract table's rows come from for a day.

Pure domain code: no Dagster.
"""

from pixie_assets.landing.layout import (
    DAILY,
    DAILY_CLIENT,
    FLAT,
    LAYOUT,
    PARTITION_TABLES,
    REQUIRED_PARTITION_TABLES,
    SOURCE_TABLES,
    SUCCESS_MARKER,
    LandingFile,
    PartitionScan,
    ReadyPartition,
    SkipKind,
    SkippedFolder,
    TableScan,
    data_files,
    is_complete,
    mark_complete,
    partition_dir,
    partition_fingerprint,
    scan_partitions,
    scan_table,
)
from pixie_assets.landing.rules import KEY, TIME_COLUMN, find_unreadable
from pixie_assets.landing.schema import (
    SCHEMAS,
    FooterCheck,
    accepts,
    check_footer,
    describe_schema,
    duckdb_type,
    schema_mismatch,
)
from pixie_assets.landing.validate import (
    LandingChangedError,
    LandingContractError,
    LandingError,
    LandingInventory,
    LandingValidationError,
    PartitionIncompleteError,
    PartitionShrinkError,
    TableFiles,
    check_client,
    check_contents,
    ensure_complete,
    ensure_unchanged,
    explain_nulls,
    inspect_partition,
    validate_landing,
)
from pixie_assets.landing.write import write_landing_table, write_partition

__all__ = [
    "DAILY",
    "DAILY_CLIENT",
    "FLAT",
    "KEY",
    "LAYOUT",
    "PARTITION_TABLES",
    "REQUIRED_PARTITION_TABLES",
    "SCHEMAS",
    "SOURCE_TABLES",
    "SUCCESS_MARKER",
    "TIME_COLUMN",
    "FooterCheck",
    "LandingChangedError",
    "LandingContractError",
    "LandingError",
    "LandingFile",
    "LandingInventory",
    "LandingValidationError",
    "PartitionIncompleteError",
    "PartitionScan",
    "PartitionShrinkError",
    "ReadyPartition",
    "SkipKind",
    "SkippedFolder",
    "TableFiles",
    "TableScan",
    "accepts",
    "check_client",
    "check_contents",
    "check_footer",
    "data_files",
    "describe_schema",
    "duckdb_type",
    "ensure_complete",
    "ensure_unchanged",
    "explain_nulls",
    "find_unreadable",
    "inspect_partition",
    "is_complete",
    "mark_complete",
    "partition_dir",
    "partition_fingerprint",
    "scan_partitions",
    "scan_table",
    "schema_mismatch",
    "validate_landing",
    "write_landing_table",
    "write_partition",
]
