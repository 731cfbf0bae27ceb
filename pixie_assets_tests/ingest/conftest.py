"""Fixtures of the ingestion tests: a landing folder, a database path, and a database already
holding three partitions for the failure tests to try (and fail) to overwrite."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from pixie_assets.ingest import INGEST_TABLES, IngestReport, ingest_partition
from pixie_assets.landing import partition_dir
from pixie_assets_tests.ingest.builders import (
    CLIENT,
    CLIENTS,
    DAY,
    partition_tables,
    write_partition,
)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "pixie.duckdb"


@pytest.fixture
def ingest(db: Path, landing: Path) -> Callable[..., IngestReport]:
    """``ingest(day=..., client=...)`` into the test's database from the test's landing folder."""

    def run(day: date = DAY, client: str = CLIENT, **options) -> IngestReport:
        return ingest_partition(db, landing, day, client, CLIENTS, **options)

    return run


@pytest.fixture(scope="session")
def populated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: a landing folder and a database holding (DAY, homefeed), (DAY, related_pins)
    and (DAY+1, homefeed); tests get a copy, which is much cheaper than ingesting three times."""
    root = tmp_path_factory.mktemp("populated")
    landing, db = root / "landing", root / "warehouse" / "pixie.duckdb"
    next_day = DAY + timedelta(days=1)
    for day, client, seed in [(DAY, CLIENT, 1), (DAY, "related_pins", 2), (next_day, CLIENT, 3)]:
        write_partition(landing, partition_tables(day, client, seed), day=day, client=client)
        ingest_partition(db, landing, day, client, CLIENTS)
    return root


@pytest.fixture
def populated(populated_template: Path, landing: Path, db: Path) -> dict[str, Path]:
    """This test's copy of ``populated_template``; returns the landing file of each table of
    (DAY, homefeed), which the failure tests then break, so that a failed re-ingestion has a
    previous partition it must leave in place. Rebuild it by ``partition_tables(seed=1)``."""
    shutil.copytree(populated_template / "landing", landing)
    shutil.copytree(populated_template / "warehouse", db.parent)
    return {
        table: partition_dir(landing, table, DAY, CLIENT) / "part-0.parquet"
        for table in INGEST_TABLES
    }
