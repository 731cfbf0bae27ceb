"""The ``_SUCCESS`` convention (issue #13 item 2): the project's writers mark every folder they
finish, ``scan_partitions`` launches only marked partitions and fingerprints exactly the files
ingestion loads, and ingestion refuses a folder whose writer has not finished, before reading it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from pixie_assets.ingest import IngestReport
from pixie_assets.landing import (
    SUCCESS_MARKER,
    PartitionIncompleteError,
    SkipKind,
    is_complete,
    partition_dir,
    partition_fingerprint,
    scan_partitions,
    write_landing_table,
)
from pixie_assets.landing import write_partition as serve_partition
from pixie_assets_tests.ingest.builders import (
    CLIENT,
    CLIENTS,
    DAY,
    partition_tables,
    snapshot,
    write_file,
    write_partition,
)

TODAY = date(2026, 12, 1)


def _scan(landing: Path):
    return scan_partitions(landing, CLIENTS, start_day=DAY, today=TODAY)


# --- writers ------------------------------------------------------------------------------------


def test_the_served_partition_appears_with_its_markers(landing):
    """World mode's writer stages each folder with its marker, so the swapped-in folder is never
    seen unmarked, and nothing of the staging is left beside it."""
    tables = partition_tables()
    serve_partition(landing, DAY, CLIENT, tables)
    for table in tables:
        folder = partition_dir(landing, table, DAY, CLIENT)
        assert sorted(p.name for p in folder.iterdir()) == [SUCCESS_MARKER, "part-0.parquet"]
        assert sorted(p.name for p in folder.parent.iterdir()) == [f"client={CLIENT}"]
    assert [(r.day, r.client) for r in _scan(landing).ready] == [(DAY.isoformat(), CLIENT)]


def test_write_landing_table_marks_every_folder_it_writes(tmp_path):
    tables = partition_tables()
    users = pa.table({"user_id": [1], "locale": ["en-US"], "created_at": [datetime(2026, 1, 1)]})
    written = write_landing_table(tmp_path, "users", users)
    written += write_landing_table(tmp_path, "engagements", tables["engagements"], client=CLIENT)
    written += write_landing_table(tmp_path, "engagements", tables["engagements"])  # no client
    assert len(written) == 3
    assert all(is_complete(path.parent) for path in written)
    # a second file into a finished folder: the folder is finished again afterwards, with both
    second = write_landing_table(tmp_path, "users", users, name="part-1")
    assert is_complete(second[0].parent)
    assert sorted(p.name for p in second[0].parent.iterdir()) == [
        SUCCESS_MARKER,
        "part-0.parquet",
        "part-1.parquet",
    ]


# --- which partitions are ready, and their fingerprints -----------------------------------------


def test_a_partition_is_ready_only_when_every_folder_it_has_is_marked(landing):
    tables = partition_tables()
    write_partition(landing, {name: tables[name] for name in ("serving_log", "impressions")})
    (ready,) = _scan(landing).ready  # engagements may be none

    path = write_file(landing, "engagements", tables["engagements"], complete=False)
    scan = _scan(landing)
    assert not scan.ready and scan.in_progress == {(DAY.isoformat(), CLIENT)}
    (waiting,) = scan.skipped
    assert waiting.folder == path.parent and waiting.kind == SkipKind.IN_PROGRESS

    (path.parent / SUCCESS_MARKER).write_bytes(b"")
    (late,) = _scan(landing).ready
    assert late.fingerprint != ready.fingerprint


def test_the_fingerprint_covers_exactly_what_ingestion_reads_and_the_markers(landing):
    """Engagements directly in day=D/ belong to no client and another client's folder to another
    partition; hidden and ``_``-temporary names are the writers' scratch: none changes it."""
    write_partition(landing, partition_tables())
    before = partition_fingerprint(landing, DAY, CLIENT)
    engagements = partition_tables()["engagements"]
    write_landing_table(landing, "engagements", engagements)  # engagements/day=D/part-0.parquet
    write_file(landing, "engagements", engagements, client="related_pins")
    folder = partition_dir(landing, "serving_log", DAY, CLIENT)
    (folder / ".part-1.parquet.crc").write_bytes(b"x")
    (folder / "_temporary").mkdir()
    assert partition_fingerprint(landing, DAY, CLIENT) == before

    marker = folder / SUCCESS_MARKER
    os.utime(marker, ns=(1, 1))  # a writer finished the folder again
    assert partition_fingerprint(landing, DAY, CLIENT) != before


# --- ingestion ----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["serving_log", "impressions", "engagements"])
def test_ingestion_refuses_a_folder_without_its_marker_and_changes_nothing(
    table, populated: dict[str, Path], db: Path, ingest: Callable[..., IngestReport]
):
    """The file is cut in half as by a writer still at work: ingestion names the unfinished
    folder instead of calling the file corrupt, and reads nothing."""
    path = populated[table]
    path.write_bytes(path.read_bytes()[:100])
    (path.parent / SUCCESS_MARKER).unlink()
    before = snapshot(db)
    with pytest.raises(PartitionIncompleteError) as refused:
        ingest()
    assert refused.value.problems == [
        f"{path.parent}: no {SUCCESS_MARKER} marker, its writer has not finished"
    ]
    assert f"day={DAY} client={CLIENT} is not complete, nothing was ingested" in str(refused.value)
    assert snapshot(db) == before
