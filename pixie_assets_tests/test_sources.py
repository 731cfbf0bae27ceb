"""Day D reads the world's history plus landing days before D, never D itself or later."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from pixie_assets.core import contract
from pixie_assets.core.files import write_parquet
from pixie_assets.core.settings import Settings
from pixie_assets.landing.sources import read_table
from pixie_assets.world import write_world


def _landing_saves(settings: Settings, day: str, pin_id: int) -> None:
    folder = settings.landing_dir / "saves" / f"day={day}" / "client=homefeed"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "user_id": [1],
            "pin_id": [pin_id],
            "board_id": [2],
            "saved_at": pa.array([f"{day}T12:00:00"], pa.string()).cast(contract.TIMESTAMP),
        },
        schema=contract.SAVES,
    )
    write_parquet(table, folder / "part-0.parquet")


def test_saves_before_a_day_include_earlier_landing_days_only(tiny_world, tmp_path):
    settings = Settings(home=tmp_path)
    write_world(tiny_world, settings.world_dir, settings.truth_dir)
    _landing_saves(settings, "2026-11-01", pin_id=-1)
    _landing_saves(settings, "2026-11-02", pin_id=-2)
    world_rows = tiny_world.tables["saves"].num_rows

    first = read_table(settings, "saves", before=date(2026, 11, 1))
    assert first.num_rows == world_rows
    second = read_table(settings, "saves", before=date(2026, 11, 2))
    assert second.num_rows == world_rows + 1 and -1 in second["pin_id"].to_pylist()
    third = read_table(settings, "saves", before=date(2026, 11, 3), columns=["pin_id"])
    assert third.num_rows == world_rows + 2 and third.schema.names == ["pin_id"]
    assert read_table(settings, "saves", before=date(2026, 11, 3)).schema.equals(contract.SAVES)


def test_engagement_window(tiny_world, tmp_path):
    settings = Settings(home=tmp_path)
    write_world(tiny_world, settings.world_dir, settings.truth_dir)
    week = read_table(settings, "engagements", before=date(2026, 11, 1), since=date(2026, 10, 25))
    ts = week["ts"].to_numpy()
    assert week.num_rows > 0
    assert (ts >= np.datetime64("2026-10-25")).all()
    assert week.num_rows < tiny_world.tables["engagements"].num_rows
