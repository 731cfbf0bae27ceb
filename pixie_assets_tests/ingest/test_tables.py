"""The type rule of landing columns, the DuckDB layout derived from the contract, the SQL loader."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pixie_assets.core import contract
from pixie_assets.core.sql import bind, load_sql
from pixie_assets.ingest import INGEST_TABLES
from pixie_assets.landing import accepts


@pytest.mark.parametrize(
    ("expected", "found"),
    [
        (pa.int64(), pa.int64()),
        (pa.int64(), pa.int32()),
        (pa.int64(), pa.uint32()),
        (pa.int32(), pa.int16()),
        (pa.int32(), pa.uint16()),
        (pa.float64(), pa.float32()),
        (pa.string(), pa.large_string()),
        (pa.string(), pa.dictionary(pa.int32(), pa.string())),
        (contract.TIMESTAMP, pa.timestamp("ms")),
        (contract.TIMESTAMP, pa.timestamp("ns")),
    ],
)
def test_exact_types_and_lossless_widenings_are_accepted(expected, found):
    assert accepts(expected, found, nullable=False)


@pytest.mark.parametrize(
    ("expected", "found"),
    [
        (pa.int32(), pa.int64()),  # could overflow
        (pa.int32(), pa.uint32()),  # could overflow
        (pa.int64(), pa.uint64()),  # could overflow
        (pa.int64(), pa.float64()),  # fractions
        (pa.float64(), pa.int64()),  # not every int64 is a double
        (pa.int64(), pa.string()),  # numbers as text
        (pa.bool_(), pa.int8()),
        (contract.TIMESTAMP, pa.timestamp("us", tz="UTC")),  # would depend on the session zone
        (contract.TIMESTAMP, pa.date32()),
    ],
)
def test_lossy_or_reinterpreting_types_are_rejected(expected, found):
    assert not accepts(expected, found, nullable=True)


def test_the_all_null_type_is_accepted_only_for_nullable_columns():
    assert accepts(pa.string(), pa.null(), nullable=True)
    assert not accepts(pa.string(), pa.null(), nullable=False)


def test_every_serving_table_is_stored_as_its_contract_plus_partition_columns():
    assert set(INGEST_TABLES) == set(contract.SERVING_TABLES)
    for name, table in INGEST_TABLES.items():
        stored = [column for column, _, _ in table.stored_columns]
        partition = ["day"] if "client" in table.schema.names else ["day", "client"]
        assert stored == [*contract.SERVING_TABLES[name].names, *partition]
        nullable = {column for column, _, is_nullable in table.stored_columns if is_nullable}
        assert nullable == {f.name for f in contract.SERVING_TABLES[name] if f.nullable}


def test_sql_is_loaded_by_name_and_binds_only_what_it_uses():
    statement = load_sql("ingest/delete_partition")
    assert bind(statement, {"day": 1, "client": "c", "files": []}) == {"day": 1, "client": "c"}
    with pytest.raises(FileNotFoundError, match="no SQL named 'ingest/nope'"):
        load_sql("ingest/nope")
    with pytest.raises(KeyError, match="client"):
        bind(statement, {"day": 1})
