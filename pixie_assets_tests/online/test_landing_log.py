"""The service's landing log: micro-batches appear whole, a closed day gets its markers (and an
empty impressions file when none were reported), late rows keep a closed folder closed, and a
full queue sheds rows (counted) without blocking the caller."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixie_assets.landing import data_files, is_complete, partition_dir
from pixie_assets.landing.schema import SCHEMAS
from pixie_assets.online.landing_log import LandingLog

DAY, CLIENT = "2026-11-03", "homefeed"


def _impressions(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "request_id": [f"r{i}" for i in range(start, start + n)],
            "pin_id": list(range(start, start + n)),
            "position": [0] * n,
            "full_ranker_score": [0.5] * n,
        }
    ).cast(SCHEMAS["impressions"])


@pytest.fixture
def log(tmp_path):
    log = LandingLog(tmp_path / "landing", max_queue=100, flush_rows=1_000, flush_seconds=60)
    yield log
    log.stop()


def _folder(root: Path, table: str) -> Path:
    return partition_dir(root / "landing", table, DAY, CLIENT)


def test_rows_are_written_as_whole_files_on_flush_and_nothing_hidden_is_left(log, tmp_path):
    for start in (0, 10, 20):
        assert log.offer("impressions", DAY, CLIENT, _impressions(10, start))
    log.flush()
    folder = _folder(tmp_path, "impressions")
    files = data_files(folder)
    assert len(files) == 1 and pq.read_table(files[0]).num_rows == 30
    assert sorted(p.name for p in folder.iterdir()) == [files[0].name]  # no temporary file
    assert not is_complete(folder)


def test_a_full_buffer_is_written_without_waiting_for_a_flush(tmp_path):
    log = LandingLog(tmp_path / "landing", flush_rows=25, flush_seconds=3600)
    try:
        log.offer("impressions", DAY, CLIENT, _impressions(30))
        log.flush()  # only waits for the writer; the file was written when the buffer filled
        assert log.counters.files == 1
    finally:
        log.stop()


def test_closing_a_day_marks_its_folders_and_writes_empty_impressions(log, tmp_path):
    log.close_day(DAY, (CLIENT,))
    for table in ("serving_log", "impressions"):
        folder = _folder(tmp_path, table)
        assert is_complete(folder), table
        (only,) = data_files(folder)
        assert pq.read_table(only).num_rows == 0 and pq.read_schema(only) == SCHEMAS[table]
    assert not _folder(tmp_path, "engagements").exists()  # none reported: no folder


def test_late_rows_of_a_closed_day_land_in_a_folder_still_marked(log, tmp_path):
    log.close_day(DAY, (CLIENT,))
    log.offer("impressions", DAY, CLIENT, _impressions(5))
    log.flush()
    folder = _folder(tmp_path, "impressions")
    assert is_complete(folder)
    assert sum(pq.read_table(f).num_rows for f in data_files(folder)) == 5


def test_a_full_queue_sheds_rows_and_counts_them_without_blocking(tmp_path):
    log = LandingLog(tmp_path / "landing", max_queue=2, flush_seconds=60)
    try:
        with log.writing_paused():
            accepted = [log.offer("impressions", DAY, CLIENT, _impressions(3)) for _ in range(5)]
        assert accepted.count(False) >= 2 and accepted[:2] == [True, True]
        assert log.counters.shed["impressions"] == 3 * accepted.count(False)
        log.flush()
        written = sum(
            pq.read_table(f).num_rows for f in data_files(_folder(tmp_path, "impressions"))
        )
        assert written == 3 * accepted.count(True)
    finally:
        log.stop()


def test_an_unknown_table_is_refused_by_name(log):
    with pytest.raises(ValueError, match="saves is not logged by the service"):
        log.offer("saves", DAY, CLIENT, _impressions(1))


def test_a_batch_that_cannot_be_written_is_reported_and_the_others_are_written(tmp_path):
    errors: list[BaseException] = []
    log = LandingLog(tmp_path / "landing", flush_seconds=60, on_error=errors.append)
    try:
        log.offer("engagements", DAY, CLIENT, pa.table({"user_id": [1]}))  # columns missing
        log.offer("impressions", DAY, CLIENT, _impressions(4))
        log.flush()
        assert log.counters.failed["engagements"] == 1 and log.counters.rows["impressions"] == 4
        (error,) = errors
        assert f"engagements day={DAY} client={CLIENT}: 1 rows not logged" in str(error)
        assert len(data_files(_folder(tmp_path, "impressions"))) == 1
    finally:
        log.stop()
