"""The world writes exactly the contract's tables, names and types, deterministically."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from pixie_assets.core import contract
from pixie_assets.world import generate_world, write_world
from pixie_assets.world.store import table_path
from pixie_assets.world.truth import WorldTruth

# DuckDB's view of the contract (docs/architecture.md §3): what a SQL user of the files will see.
DUCKDB_TYPES = {
    "users": {"user_id": "BIGINT", "locale": "VARCHAR", "created_at": "TIMESTAMP"},
    "pins": {
        "pin_id": "BIGINT", "locale": "VARCHAR", "topic": "VARCHAR", "created_at": "TIMESTAMP",
    },
    "boards": {"board_id": "BIGINT", "owner_id": "BIGINT", "topic": "VARCHAR"},
    "saves": {
        "user_id": "BIGINT", "pin_id": "BIGINT", "board_id": "BIGINT", "saved_at": "TIMESTAMP",
    },
    "engagements": {
        "user_id": "BIGINT", "pin_id": "BIGINT", "action": "VARCHAR", "client": "VARCHAR",
        "request_id": "VARCHAR", "ts": "TIMESTAMP",
    },
}  # fmt: skip


def test_tables_have_the_contract_schemas(tiny_world):
    assert set(tiny_world.tables) == set(contract.WORLD_TABLES)
    for name, table in tiny_world.tables.items():
        assert table.schema.equals(contract.WORLD_TABLES[name]), name


def test_files_read_back_with_contract_types_in_duckdb(tiny_world, tmp_path):
    write_world(tiny_world, tmp_path / "world", tmp_path / "truth")
    with duckdb.connect() as con:
        for name, expected in DUCKDB_TYPES.items():
            path = table_path(tmp_path / "world", name)
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
            assert {row[0]: row[1] for row in described} == expected, name


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    day = date(2026, 11, 1)
    for run in ("a", "b"):
        write_world(generate_world("tiny", 7, day), tmp_path / run / "world", tmp_path / run / "t")
    for name in contract.WORLD_TABLES:
        a = table_path(tmp_path / "a" / "world", name).read_bytes()
        b = table_path(tmp_path / "b" / "world", name).read_bytes()
        assert a == b, name
    for truth_file in (tmp_path / "a" / "t").iterdir():
        assert truth_file.read_bytes() == (tmp_path / "b" / "t" / truth_file.name).read_bytes()
    other = generate_world("tiny", 8, day)
    assert not other.tables["saves"].equals(generate_world("tiny", 7, day).tables["saves"])


def test_keys_are_unique_and_references_resolve(tiny_world):
    t = tiny_world.tables
    for name, key in (("users", "user_id"), ("pins", "pin_id"), ("boards", "board_id")):
        assert pc.count_distinct(t[name][key]).as_py() == t[name].num_rows, name
    assert pc.all(pc.is_in(t["saves"]["pin_id"], t["pins"]["pin_id"])).as_py()
    assert pc.all(pc.is_in(t["saves"]["board_id"], t["boards"]["board_id"])).as_py()
    assert pc.all(pc.is_in(t["boards"]["owner_id"], t["users"]["user_id"])).as_py()
    assert pc.all(pc.is_in(t["engagements"]["pin_id"], t["pins"]["pin_id"])).as_py()
    assert set(pc.unique(t["engagements"]["action"]).to_pylist()) <= set(contract.ACTIONS)


def test_saves_belong_to_the_board_owner_and_precede_the_first_day(tiny_world):
    t = tiny_world.tables
    boards = t["boards"].to_pandas().set_index("board_id")["owner_id"]
    saves = t["saves"].to_pandas()
    assert (saves["board_id"].map(boards).to_numpy() == saves["user_id"].to_numpy()).all()
    first_day = np.datetime64("2026-11-01T00:00:00")
    assert (saves["saved_at"].to_numpy() < first_day).all()
    assert (t["engagements"]["ts"].to_numpy() < first_day).all()
    pins = t["pins"].to_pandas().set_index("pin_id")["created_at"]
    assert (saves["pin_id"].map(pins).to_numpy() <= saves["saved_at"].to_numpy()).all()


def test_ids_are_not_row_indices(tiny_world):
    """Ids with gaps catch code that mixes ids and indices."""
    pin_ids = tiny_world.tables["pins"]["pin_id"].to_numpy()
    assert pin_ids[0] > len(pin_ids)
    assert np.unique(np.diff(pin_ids)).size > 1


def test_truth_roundtrips_and_stays_out_of_the_world_folder(tiny_world, tmp_path):
    write_world(tiny_world, tmp_path / "world", tmp_path / "truth")
    assert sorted(p.name for p in (tmp_path / "world").iterdir()) == sorted(
        f"{name}.parquet" for name in contract.WORLD_TABLES
    )
    loaded = WorldTruth.load(tmp_path / "truth")
    np.testing.assert_array_equal(loaded.user_interest, tiny_world.truth.user_interest)
    np.testing.assert_array_equal(loaded.pin_quality, tiny_world.truth.pin_quality)
    assert loaded.engagement_model == tiny_world.truth.engagement_model
    pins = tiny_world.tables["pins"]["pin_id"].to_numpy()[:5]
    users = tiny_world.tables["users"]["user_id"].to_numpy()[:5]
    np.testing.assert_allclose(
        loaded.action_probabilities(users, pins), tiny_world.truth.action_probabilities(users, pins)
    )


def test_a_failed_rewrite_leaves_the_previous_world_intact(tiny_world, tmp_path, monkeypatch):
    write_world(tiny_world, tmp_path / "world", tmp_path / "truth")
    before = table_path(tmp_path / "world", "saves").read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pixie_assets.core.files.write_parquet", explode)
    with pytest.raises(OSError, match="disk full"):
        write_world(tiny_world, tmp_path / "world", tmp_path / "truth")
    assert table_path(tmp_path / "world", "saves").read_bytes() == before
