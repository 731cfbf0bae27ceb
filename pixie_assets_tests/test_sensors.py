"""The landing sensor: one run request per complete new or rewritten partition, none twice."""

from __future__ import annotations

import os

import dagster as dg

from pixie_assets.defs.resources import PixieSettings
from pixie_assets.defs.sensors import landing_files_sensor


def _touch(landing, table, day, client, mtime):
    folder = landing / table / f"day={day}" / f"client={client}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    path.write_bytes(b"PAR1")  # the sensor looks at names and times; ingestion reads contents
    os.utime(path, (mtime, mtime))


def _evaluate(settings, cursor=None):
    with dg.build_sensor_context(cursor=cursor, resources={"pixie": settings}) as context:
        result = landing_files_sensor(context)
        return result, context.cursor


def test_new_complete_partitions_are_ingested_once_and_again_when_rewritten(tmp_path):
    landing = tmp_path / "landing"
    settings = PixieSettings(home=str(tmp_path), source="landing", landing=str(landing))
    _touch(landing, "serving_log", "2026-11-01", "homefeed", 1_000)
    _touch(landing, "impressions", "2026-11-01", "homefeed", 1_000)
    _touch(landing, "serving_log", "2026-11-01", "notifications", 1_000)  # no impressions yet

    requests, cursor = _evaluate(settings)
    assert [r.partition_key.keys_by_dimension for r in requests] == [
        {"day": "2026-11-01", "client": "homefeed"}
    ]
    assert isinstance(_evaluate(settings, cursor)[0], dg.SkipReason)  # nothing new

    _touch(landing, "impressions", "2026-11-01", "notifications", 2_000)
    _touch(landing, "impressions", "2026-11-01", "homefeed", 3_000)  # rewritten
    requests, _ = _evaluate(settings, cursor)
    keys = sorted(r.partition_key.keys_by_dimension["client"] for r in requests)
    assert keys == ["homefeed", "notifications"]


def test_world_mode_skips(tmp_path):
    result, _ = _evaluate(PixieSettings(home=str(tmp_path)))
    assert isinstance(result, dg.SkipReason) and "world" in result.skip_message
