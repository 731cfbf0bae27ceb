"""Bad partitions: each is rejected with a message naming the file and the problem, and a failed
re-ingestion of an already loaded partition leaves every DuckDB table exactly as it was.

Each test starts from ``populated`` (three partitions loaded), breaks one thing in the landing
files of (DAY, homefeed), and asserts on the error and on a before/after snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pixie_assets.landing import LandingValidationError, partition_dir
from pixie_assets_tests.ingest.builders import (
    CLIENT,
    CLIENTS,
    DAY,
    partition_tables,
    snapshot,
    write_file,
)


@pytest.fixture
def rejects(db: Path, populated: dict[str, Path], ingest) -> Callable[..., str]:
    """``rejects(*fragments)``: ingesting (DAY, homefeed) raises ``LandingValidationError``
    whose message contains every fragment, and the database is unchanged. Returns the message."""

    def check(*fragments: str, client: str = CLIENT) -> str:
        before = snapshot(db)
        with pytest.raises(LandingValidationError) as caught:
            ingest(client=client)
        message = str(caught.value)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in:\n{message}"
        assert snapshot(db) == before
        return message

    return check


def _replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _with_value(table: pa.Table, name: str, row: int, value: object) -> pa.Table:
    """``table`` with one cell changed (``None`` for a null), keeping the column's type."""
    values = table[name].to_pylist()
    values[row] = value
    return _replace(table, name, pa.array(values, table.schema.field(name).type))


def _rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def test_unconfigured_client_names_the_client_and_the_configured_ones(rejects):
    message = rejects("'search' is not configured", client="search")
    for client in CLIENTS:
        assert client in message


def test_missing_column_names_file_and_column(rejects, populated):
    path = populated["serving_log"]
    _rewrite(path, partition_tables(seed=1)["serving_log"].drop_columns(["visit_rank"]))
    rejects(str(path), "missing column(s) 'visit_rank'")


@pytest.mark.parametrize(
    ("arrow_type", "shown"),
    [(pa.string(), "string"), (pa.float64(), "double")],
    ids=["string", "double"],
)
def test_mistyped_pin_id_names_file_column_and_both_types(rejects, populated, arrow_type, shown):
    path = populated["serving_log"]
    serving = partition_tables(seed=1)["serving_log"]
    _rewrite(path, _replace(serving, "pin_id", pc.cast(serving["pin_id"], arrow_type)))
    rejects(str(path), f"column 'pin_id' has type {shown}, expected int64")


def test_narrowing_an_integer_is_rejected(rejects, populated):
    """int64 into the int32 position column could overflow: not a lossless widening."""
    path = populated["impressions"]
    impressions = partition_tables(seed=1)["impressions"]
    _rewrite(path, _replace(impressions, "position", pc.cast(impressions["position"], pa.int64())))
    rejects(str(path), "column 'position' has type int64, expected int32")


def test_timezone_aware_timestamps_are_rejected(rejects, populated):
    path = populated["serving_log"]
    serving = partition_tables(seed=1)["serving_log"]
    aware = pc.cast(serving["ts"], pa.timestamp("us", tz="UTC"))
    _rewrite(path, _replace(serving, "ts", aware))
    rejects(str(path), "column 'ts' has type timestamp[us, tz=UTC], expected timestamp[us]")


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("serving_log", "request_id"),
        ("serving_log", "pin_id"),
        ("impressions", "request_id"),
        ("impressions", "pin_id"),
        ("engagements", "user_id"),
        ("engagements", "pin_id"),
        ("engagements", "action"),
    ],
)
def test_null_key_names_file_column_and_count(rejects, populated, table, column):
    path = populated[table]
    data = partition_tables(seed=1)[table]
    data = _with_value(_with_value(data, column, 1, None), column, 2, None)
    _rewrite(path, data)
    rejects(str(path), f"2 row(s) with null {column!r}", "first at row 1")


@pytest.mark.parametrize(
    ("table", "column"),
    [("serving_log", "visit_count"), ("serving_log", "model_version"), ("impressions", "position")],
)
def test_null_in_other_columns_is_caught_by_the_insert_and_rolled_back(
    rejects, populated, table, column
):
    """Nulls outside the profiled columns fail the insert's NOT NULL constraint, after earlier
    tables of the partition were already deleted and reinserted in the same transaction."""
    path = populated[table]
    _rewrite(path, _with_value(partition_tables(seed=1)[table], column, 3, None))
    rejects(str(path), f"1 row(s) with null {column!r}", "first at row 3")


def test_duplicate_key_within_a_file_names_file_key_and_count(rejects, populated):
    path = populated["serving_log"]
    serving = partition_tables(seed=1)["serving_log"]
    duplicated = pa.concat_tables([serving, serving.slice(4, 1)])
    _rewrite(path, duplicated)
    key = serving.slice(4, 1).to_pylist()[0]
    rejects(
        str(path),
        "1 (request_id, pin_id) key(s) of serving_log occur more than once (2 rows)",
        f"('{key['request_id']}', {key['pin_id']}) ×2 in {path}",
    )


def test_duplicate_key_across_files_names_both_files(rejects, populated, landing):
    first = populated["impressions"]
    impressions = partition_tables(seed=1)["impressions"]
    second = write_file(landing, "impressions", impressions.slice(0, 2), name="part-1.parquet")
    message = rejects("2 (request_id, pin_id) key(s) of impressions occur more than once")
    assert f"×2 in {first}, {second}" in message


def test_truncated_file_is_named(rejects, populated):
    path = populated["serving_log"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    rejects(str(path), "not a readable Parquet file")


def test_random_bytes_are_named(rejects, populated):
    path = populated["engagements"]
    path.write_bytes(np.random.default_rng(0).bytes(2_000))
    rejects(str(path), "not a readable Parquet file")


@pytest.mark.parametrize("column", ["request_id", "full_ranker_score"])
def test_corrupt_data_behind_a_valid_footer_is_named(rejects, populated, column):
    """A footer can be intact while the pages it points to are garbage: DuckDB fails reading them
    without naming the file, so the file is found by decoding each. ``request_id`` is read by the
    profile, ``full_ranker_score`` only by the insert: both paths name the file."""
    path = populated["impressions"]
    chunk = (
        pq.ParquetFile(path)
        .metadata.row_group(0)
        .column(pq.read_schema(path).get_field_index(column))
    )
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + chunk.total_compressed_size] = np.random.default_rng(1).bytes(
        chunk.total_compressed_size
    )
    path.write_bytes(bytes(data))
    assert pq.read_schema(path) is not None  # the footer still reads
    rejects(str(path), "Parquet data cannot be decoded")


def test_rows_of_another_client_are_named(rejects, populated):
    path = populated["serving_log"]
    serving = _with_value(partition_tables(seed=1)["serving_log"], "client", 5, "related_pins")
    _rewrite(path, serving)
    rejects(str(path), "1 row(s) whose client is not the partition's 'homefeed'", "'related_pins'")


def test_engagements_of_another_client_are_named(rejects, populated):
    path = populated["engagements"]
    engagements = _with_value(partition_tables(seed=1)["engagements"], "client", 0, "x")
    _rewrite(path, engagements)
    rejects(str(path), "whose client is not the partition's 'homefeed'", "first at row 0: 'x'")


def test_rows_outside_the_partition_day_are_named(rejects, populated):
    path = populated["serving_log"]
    late = datetime.combine(DAY + timedelta(days=1), datetime.min.time())
    _rewrite(path, _with_value(partition_tables(seed=1)["serving_log"], "ts", 2, late))
    rejects(str(path), "1 row(s) with ts outside the partition's day", "first at row 2")


def test_engagements_before_the_partition_day_are_named(rejects, populated):
    path = populated["engagements"]
    early = datetime.combine(DAY, datetime.min.time()) - timedelta(microseconds=1)
    _rewrite(path, _with_value(partition_tables(seed=1)["engagements"], "ts", 0, early))
    rejects(str(path), "1 row(s) with ts outside the partition's day")


def test_unknown_action_is_named(rejects, populated):
    path = populated["engagements"]
    _rewrite(path, _with_value(partition_tables(seed=1)["engagements"], "action", 1, "like"))
    rejects(str(path), "1 row(s) with an action outside save, click, closeup, hide", "'like'")


@pytest.mark.parametrize("table", ["serving_log", "impressions"])
def test_missing_required_table_names_the_expected_folder(rejects, populated, landing, table):
    populated[table].unlink()
    folder = partition_dir(landing, table, DAY, CLIENT)
    rejects(f"no {table} files for this partition: expected *.parquet in {folder}")


def test_every_problem_is_reported_together(rejects, populated):
    serving, engagements = populated["serving_log"], populated["engagements"]
    tables = partition_tables(seed=1)
    _rewrite(serving, tables["serving_log"].drop_columns(["lightweight_score"]))
    engagements.write_bytes(b"not parquet")
    message = rejects(str(serving), str(engagements))
    assert "2 problem(s)" in message
