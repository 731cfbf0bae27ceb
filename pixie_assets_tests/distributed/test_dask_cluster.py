"""#14: the day × client chain on a LocalCluster of 2 workers gives the same bytes as in
process, for candidates and for the serving logs. Shards are made small so that the tiny world's
400 homefeed requests make four of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets_tests.loop import run

pytestmark = pytest.mark.slow

DAY = "2026-11-01"
SHARD_REQUESTS = 100  # the tiny day's 400 homefeed requests in 4 shards


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr("pixie_assets.defs.assets.candidates.SHARD_REQUESTS", SHARD_REQUESTS)
    home = tmp_path_factory.mktemp("pixie_dask")
    in_process = PixieSettings(home=str(home), world_scale="tiny", world_seed=7, start_day=DAY)
    on_dask = PixieSettings(
        home=str(home), world_scale="tiny", world_seed=7, start_day=DAY, dask="local:2"
    )
    run(in_process, ["world"])
    run(in_process, ["pin_board_graph"], DAY)
    key = day_client_key(DAY, "homefeed")
    resolved = in_process.resolved()
    folder = resolved.candidates_partition_dir(DAY, "homefeed")
    outcomes = {}
    for name, settings in (("in_process", in_process), ("local:2", on_dask)):
        result = run(settings, ["walk_candidates", "serving_logs"], key)
        metadata = result.asset_materializations_for_node("walk_candidates")[0].metadata
        served = result.asset_materializations_for_node("serving_logs")[0].metadata
        landing = {
            table: _bytes(resolved.landing_dir / table / f"day={DAY}" / "client=homefeed")
            for table in ("serving_log", "impressions", "engagements")
        }
        outcomes[name] = (
            _bytes(folder),
            {k: v.value for k, v in metadata.items()},
            landing,
            {k: v.value for k, v in served.items()},
        )
    yield outcomes
    patch.undo()


def test_candidates_are_byte_identical_in_process_and_on_two_workers(runs):
    files = runs["in_process"][0]
    assert sorted(files) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet", "part-00003.parquet",
        "requests.parquet",
    ]  # fmt: skip
    assert runs["local:2"][0] == files


def test_serving_logs_are_byte_identical_in_process_and_on_two_workers(runs):
    landing = runs["in_process"][2]
    assert sorted(landing["serving_log"]) == [
        "_SUCCESS",
        *(f"part-0000{i}.parquet" for i in range(4)),
    ]
    assert runs["local:2"][2] == landing
    assert runs["local:2"][3]["shards"] == 4 and runs["local:2"][3]["workers"] == 2


def test_the_dask_run_says_where_it_ran(runs):
    metadata = runs["local:2"][1]
    assert metadata["workers"] == 2 and metadata["shards"] == 4
    assert metadata["dask_dashboard"].startswith("http://127.0.0.1:")
    # one cluster for the run: the serving step used the one the walks started
    assert runs["local:2"][3]["dask_dashboard"] == metadata["dask_dashboard"]
    assert runs["in_process"][1]["workers"] == 1
    assert "dask_dashboard" not in runs["in_process"][1]
    for key in ("requests", "candidates", "distinct_pins", "walk_steps"):
        assert runs["local:2"][1][key] == runs["in_process"][1][key], key
