"""``serving_log_table`` as the sensor launches it: a shrinking re-ingestion fails and changes
nothing unless the run's config says ``allow_shrink``, which the materialization records."""

from __future__ import annotations

import dagster as dg
import pytest

from pixie_assets.defs.assets.serving import serving_log_table, serving_logs
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.ingest import read_partition_counts
from pixie_assets.landing import LandingValidationError, PartitionShrinkError
from pixie_assets_tests.ingest.builders import CLIENT, DAY, partition_tables, write_partition


def _ingest(settings: PixieSettings, **config) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"serving_log_table": {"config": config}}} if config else None
    return dg.materialize(
        [serving_log_table],
        partition_key=day_client_key(DAY.isoformat(), CLIENT),
        resources={"pixie": settings},
        run_config=run_config,
    )


def test_a_shrinking_reingestion_needs_allow_shrink_and_says_so(tmp_path):
    landing = tmp_path / "landing"
    settings = PixieSettings(home=str(tmp_path / "home"), source="landing", landing=str(landing))
    tables = partition_tables()
    write_partition(landing, tables)
    _ingest(settings)
    db = settings.resolved().duckdb_path
    loaded = read_partition_counts(db, DAY, CLIENT)

    write_partition(landing, {**tables, "engagements": tables["engagements"].slice(0, 0)})
    with pytest.raises(PartitionShrinkError, match="engagements would shrink"):
        _ingest(settings)
    assert read_partition_counts(db, DAY, CLIENT) == loaded

    result = _ingest(settings, allow_shrink=True)
    metadata = result.asset_materializations_for_node("serving_log_table")[0].metadata
    assert metadata["allow_shrink"].value is True
    assert read_partition_counts(db, DAY, CLIENT)["engagements"] == 0


def test_landing_mode_serving_logs_name_a_corrupt_file(tmp_path):
    landing = tmp_path / "landing"
    settings = PixieSettings(home=str(tmp_path / "home"), source="landing", landing=str(landing))
    paths = write_partition(landing, partition_tables())
    paths["impressions"].write_bytes(b"PAR1 truncated by a crashed writer")

    with pytest.raises(LandingValidationError) as refused:
        dg.materialize(
            [serving_logs],
            partition_key=day_client_key(DAY.isoformat(), CLIENT),
            resources={"pixie": settings},
        )
    (problem,) = refused.value.problems
    assert problem.startswith(f"{paths['impressions']}: not a readable Parquet file")
