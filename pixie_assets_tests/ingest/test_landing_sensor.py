"""Late engagements reach DuckDB (issue #13 item 3): the landing sensor requests a partition
again when its file set changes, and the run it requests loads the new rows."""

from __future__ import annotations

import dagster as dg

from pixie_assets.definitions import defs
from pixie_assets.defs.assets.serving import serving_log_table
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.defs.sensors import landing_files_sensor
from pixie_assets.ingest import read_partition_counts
from pixie_assets_tests.ingest.builders import (
    CLIENT,
    DAY,
    partition_tables,
    write_file,
    write_partition,
)


def _tick(instance: dg.DagsterInstance, settings: PixieSettings, cursor: str | None):
    with dg.build_sensor_context(
        cursor=cursor, resources={"pixie": settings}, instance=instance, definitions=defs
    ) as context:
        return landing_files_sensor.evaluate_tick(context)


def _launch(settings: PixieSettings, request: dg.RunRequest) -> None:
    """What the daemon does with a request: run ``ingest_job`` (serving_log_table) in process."""
    result = dg.materialize(
        [serving_log_table],
        partition_key=request.partition_key,
        run_config=request.run_config,
        resources={"pixie": settings},
    )
    assert result.success


def test_late_engagements_are_ingested_by_the_run_the_sensor_requests_again(tmp_path):
    landing = tmp_path / "landing"
    settings = PixieSettings(home=str(tmp_path / "home"), source="landing", landing=str(landing))
    db = settings.resolved().duckdb_path
    tables = partition_tables()
    write_partition(landing, {name: tables[name] for name in ("serving_log", "impressions")})

    with dg.instance_for_test() as instance:
        first = _tick(instance, settings, None)
        (request,) = first.run_requests
        assert request.partition_key == f"{CLIENT}|{DAY}"
        _launch(settings, request)
        loaded = read_partition_counts(db, DAY, CLIENT)
        assert loaded == {"serving_log": 15, "impressions": 6, "engagements": 0}

        write_file(landing, "engagements", tables["engagements"])  # late, then its marker
        late = _tick(instance, settings, first.cursor)
        (again,) = late.run_requests
        assert again.partition_key == request.partition_key and again.run_key != request.run_key
        _launch(settings, again)
        engagements = tables["engagements"].num_rows
        assert read_partition_counts(db, DAY, CLIENT) == {**loaded, "engagements": engagements}

        settled = _tick(instance, settings, late.cursor)
        assert not settled.run_requests and "(1 unchanged)" in settled.skip_message
