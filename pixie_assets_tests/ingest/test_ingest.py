"""Good partitions: what lands in DuckDB, idempotent re-runs, replacement, accepted widenings."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pixie_assets.core import contract
from pixie_assets.ingest import (
    INGEST_TABLES,
    DuckDBTableMismatchError,
    ingest_partition,
    read_partition_counts,
)
from pixie_assets.ingest import load as load_module
from pixie_assets.landing import (
    LandingChangedError,
    LandingValidationError,
    PartitionShrinkError,
    partition_dir,
)
from pixie_assets_tests.ingest.builders import (
    CLIENT,
    CLIENTS,
    DAY,
    partition_tables,
    snapshot,
    write_file,
    write_partition,
)


def _rows(db: Path, table: str, day=DAY, client=CLIENT) -> list[dict]:
    columns = ", ".join(INGEST_TABLES[table].schema.names)
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(
            f"SELECT {columns} FROM {table} WHERE day = $day AND client = $client ORDER BY ALL",
            {"day": day, "client": client},
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _expected(data: pa.Table) -> list[dict]:
    return sorted(data.to_pylist(), key=lambda row: tuple(str(v) for v in row.values()))


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: tuple(str(v) for v in row.values()))


def test_loads_every_table_with_partition_columns_and_contract_types(db, landing, ingest):
    tables = partition_tables()
    paths = write_partition(landing, tables)

    report = ingest()

    assert read_partition_counts(db, DAY, CLIENT) == {t: d.num_rows for t, d in tables.items()}
    for table, data in tables.items():
        assert _sorted(_rows(db, table)) == _expected(data), table
    assert report.rows == {t: d.num_rows for t, d in tables.items()}
    assert report.files == dict.fromkeys(tables, 1)
    assert report.bytes == {t: p.stat().st_size for t, p in paths.items()}
    assert report.replaced_rows == dict.fromkeys(tables, 0)
    with duckdb.connect(str(db), read_only=True) as con:
        impression_partitions = con.execute(
            "SELECT DISTINCT day, client FROM impressions"
        ).fetchall()
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = 'serving_log'"
            ).fetchall()
        )
    assert impression_partitions == [(DAY, CLIENT)]
    assert types["pin_id"] == "BIGINT" and types["ts"] == "TIMESTAMP" and types["day"] == "DATE"
    assert set(types) == {*contract.SERVING_LOG.names, "day"}


def test_report_as_dict_is_flat_metadata(ingest, landing):
    write_partition(landing, partition_tables())
    flat = ingest().as_dict()
    assert flat["day"] == DAY.isoformat() and flat["client"] == CLIENT
    for table in INGEST_TABLES:
        assert {f"{table}_rows", f"{table}_files", f"{table}_bytes", f"{table}_replaced_rows"} <= (
            flat.keys()
        )
    assert flat["seconds"] >= flat["validate_seconds"] >= 0
    assert all(isinstance(v, str | int | float) for v in flat.values())


def test_reingesting_the_same_files_is_idempotent(db, landing, populated, ingest):
    before = snapshot(db)
    counts = read_partition_counts(db, DAY, CLIENT)

    report = ingest()

    assert snapshot(db) == before
    assert read_partition_counts(db, DAY, CLIENT) == counts
    assert report.replaced_rows == counts == report.rows


def test_reingesting_changed_files_replaces_only_that_partition(db, landing, populated, ingest):
    other = {
        (day, client): _rows(db, "serving_log", day, client)
        for day, client in [(DAY, "related_pins"), (DAY + timedelta(days=1), CLIENT)]
    }
    smaller = partition_tables(seed=9)
    smaller["serving_log"] = smaller["serving_log"].slice(0, 7)
    kept = smaller["serving_log"]
    logged = set(zip(kept["request_id"].to_pylist(), kept["pin_id"].to_pylist(), strict=True))
    shown = smaller["impressions"].to_pylist()
    smaller["impressions"] = pa.Table.from_pylist(
        [row for row in shown if (row["request_id"], row["pin_id"]) in logged],
        schema=smaller["impressions"].schema,
    )
    write_partition(landing, smaller)

    ingest(allow_shrink=True)  # 15 -> 7 rows: a deliberate correction

    for table, data in smaller.items():
        assert _sorted(_rows(db, table)) == _expected(data), table
    for (day, client), rows in other.items():
        assert _rows(db, "serving_log", day, client) == rows


def test_several_files_per_table_are_loaded_together(db, landing, ingest):
    tables = partition_tables()
    serving = tables["serving_log"]
    write_file(landing, "serving_log", serving.slice(0, 6), name="a.parquet")
    write_file(landing, "serving_log", serving.slice(6), name="b.parquet")
    write_file(landing, "impressions", tables["impressions"])
    write_file(landing, "engagements", tables["engagements"])
    # marker and in-progress files (Hadoop/Spark naming) are not data
    (partition_dir(landing, "serving_log", DAY, CLIENT) / "_tmp.parquet").write_bytes(b"junk")

    report = ingest()

    assert report.files["serving_log"] == 2
    assert _sorted(_rows(db, "serving_log")) == _expected(serving)


def test_missing_engagements_never_empty_a_loaded_partition_without_the_override(
    db, landing, ingest
):
    tables = partition_tables()
    paths = write_partition(landing, tables)
    ingest()
    loaded = read_partition_counts(db, DAY, CLIENT)
    assert loaded["engagements"] == tables["engagements"].num_rows > 0

    paths["engagements"].unlink()
    with pytest.raises(PartitionShrinkError, match=r"engagements would shrink from \d+ to 0 rows"):
        ingest()
    assert read_partition_counts(db, DAY, CLIENT) == loaded

    report = ingest(allow_shrink=True)

    assert report.rows["engagements"] == 0 and report.files["engagements"] == 0
    assert read_partition_counts(db, DAY, CLIENT)["engagements"] == 0
    assert read_partition_counts(db, DAY, CLIENT)["serving_log"] == tables["serving_log"].num_rows


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.null()], ids=["string", "null_type"])
def test_engagements_without_request_id_are_accepted(db, landing, ingest, arrow_type):
    """request_id is nullable in engagements; a writer may even infer the all-null type."""
    tables = partition_tables()
    engagements = tables["engagements"]
    tables["engagements"] = engagements.set_column(
        engagements.schema.get_field_index("request_id"),
        "request_id",
        pa.nulls(engagements.num_rows, arrow_type),
    )
    write_partition(landing, tables)
    assert ingest().rows["engagements"] == engagements.num_rows
    assert {row["request_id"] for row in _rows(db, "engagements")} == {None}


def test_lossless_widenings_are_accepted_and_stored_as_contract_types(db, landing, ingest):
    tables = partition_tables()
    exact = tables["serving_log"]
    # eighths are exact in float32, so widening them back must give the same doubles
    eighths = pa.array([i / 8 for i in range(exact.num_rows)], pa.float64())
    exact = exact.set_column(exact.schema.get_field_index("visit_count"), "visit_count", eighths)
    serving = exact
    narrow = {
        "pin_id": pa.int32(),
        "user_id": pa.uint16(),
        "visit_rank": pa.int16(),
        "visit_count": pa.float32(),
        "ts": pa.timestamp("ms"),
        "client": pa.large_string(),
        "model_version": pa.dictionary(pa.int8(), pa.string()),
    }
    for name, arrow_type in narrow.items():
        index = serving.schema.get_field_index(name)
        serving = serving.set_column(index, name, pc.cast(serving[name], arrow_type))
    tables["serving_log"] = serving
    # extra columns are ignored: a newer writer may add some
    tables["impressions"] = tables["impressions"].append_column(
        "experiment", pa.array(["x"] * tables["impressions"].num_rows)
    )
    write_partition(landing, tables)

    ingest()

    assert _sorted(_rows(db, "serving_log")) == _expected(exact)
    assert _sorted(_rows(db, "impressions")) == _expected(partition_tables()["impressions"])


def test_read_partition_counts_before_any_ingestion_is_zero(db):
    assert read_partition_counts(db, DAY, CLIENT) == dict.fromkeys(INGEST_TABLES, 0)


def test_refuses_an_existing_table_that_no_longer_fits_the_contract(db, landing, ingest):
    db.parent.mkdir(parents=True)
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE impressions (request_id VARCHAR, pin_id BIGINT)")
    write_partition(landing, partition_tables())
    before = snapshot(db)

    with pytest.raises(DuckDBTableMismatchError, match="impressions"):
        ingest()

    assert snapshot(db) == before


def test_files_replaced_during_ingestion_roll_back(db, landing, populated, monkeypatch):
    """A writer swapping the partition between validation and commit must not get its
    unvalidated rows committed."""
    before = snapshot(db)
    validate = load_module.check_contents

    def validate_then_rewrite(*args, **kwargs):
        result = validate(*args, **kwargs)
        write_partition(landing, partition_tables(seed=5))
        return result

    monkeypatch.setattr(load_module, "check_contents", validate_then_rewrite)
    with pytest.raises(LandingChangedError, match="during ingestion"):
        ingest_partition(db, landing, DAY, CLIENT, CLIENTS)
    assert snapshot(db) == before


def test_a_file_that_is_not_parquet_is_refused_by_name(db, landing, ingest):
    write_partition(landing, partition_tables())
    stray = partition_dir(landing, "engagements", DAY, CLIENT) / "engagements.csv"
    stray.write_text("user_id,pin_id\n1,2\n")

    with pytest.raises(LandingValidationError, match=re.escape(f"{stray}: not a *.parquet file")):
        ingest()
    assert read_partition_counts(db, DAY, CLIENT)["serving_log"] == 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=str)
def test_nan_or_infinite_scores_are_refused_naming_file_column_and_row(db, landing, ingest, bad):
    tables = partition_tables()
    serving = tables["serving_log"]
    scores = serving["lightweight_score"].to_pylist()
    scores[3] = bad
    column = serving.schema.get_field_index("lightweight_score")
    tables["serving_log"] = serving.set_column(
        column, "lightweight_score", pa.array(scores, pa.float64())
    )
    paths = write_partition(landing, tables)

    with pytest.raises(LandingValidationError) as refused:
        ingest()
    (problem,) = [p for p in refused.value.problems if "lightweight_score" in p]
    assert problem.startswith(f"{paths['serving_log']}: 1 row(s) with NaN or infinite")
    assert "first at row 3" in problem
    assert read_partition_counts(db, DAY, CLIENT)["serving_log"] == 0


def test_impressions_absent_from_the_serving_log_are_refused_naming_the_row(db, landing, ingest):
    tables = partition_tables()
    impressions = tables["impressions"]
    pins = impressions["pin_id"].to_pylist()
    pins[1] = 999_999_999  # never a candidate of that request
    column = impressions.schema.get_field_index("pin_id")
    tables["impressions"] = impressions.set_column(column, "pin_id", pa.array(pins, pa.int64()))
    paths = write_partition(landing, tables)

    with pytest.raises(LandingValidationError) as refused:
        ingest()
    (problem,) = refused.value.problems
    assert problem.startswith(f"{paths['impressions']}: 1 impression(s) of (request_id, pin_id)")
    assert "first at row 1" in problem and "999999999" in problem
    assert read_partition_counts(db, DAY, CLIENT)["impressions"] == 0


def test_a_landing_path_with_glob_characters_is_refused_before_duckdb_reads_it(tmp_path):
    tables = partition_tables()
    landing = tmp_path / "landing[1]"
    write_partition(landing, tables)
    write_partition(tmp_path / "landing1", partition_tables(seed=5))  # what a glob would match
    db = tmp_path / "pixie.duckdb"

    with pytest.raises(LandingValidationError, match="which DuckDB reads as a pattern") as refused:
        ingest_partition(db, landing, DAY, CLIENT, ("homefeed",))
    assert all("landing[1]" in problem for problem in refused.value.problems)
    assert read_partition_counts(db, DAY, CLIENT)["serving_log"] == 0
