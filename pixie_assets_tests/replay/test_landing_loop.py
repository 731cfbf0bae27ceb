"""Landing mode through the existing loop assets: the graph from the user's own tables, labels
and a trained model from hand-made serving_log / impressions / engagements files."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets_tests.ingest import builders as serving
from pixie_assets_tests.loop import run
from pixie_assets_tests.replay import builders

DAY = "2026-11-01"
CLIENT = "homefeed"
BASE = date(2026, 10, 20)  # the example's days 0..10 are 10-20..10-30, all before DAY


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    materialization = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in materialization.metadata.items()}


# Runs the loop on a landing folder.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landing_loop(tmp_path_factory):
    home = tmp_path_factory.mktemp("landing_loop")
    landing = builders.write_example(home / "landing", BASE)  # = $PIXIE_HOME/landing
    day = date.fromisoformat(DAY)
    log = serving.serving_log_table(day, CLIENT, requests=20, candidates=5)
    impressions = serving.impressions_table(log)
    serving.write_partition(
        landing,
        {
            "serving_log": log,
            "impressions": impressions,
            "engagements": serving.engagements_table(impressions, day, CLIENT),
        },
        day,
        CLIENT,
    )
    settings = PixieSettings(home=str(home), source="landing", world_scale="tiny", start_day=DAY)
    graph = run(settings, ["pin_board_graph"], DAY)
    loop = run(
        settings,
        [stage for stage in DAY_CLIENT_ASSETS if stage != "model_evaluation"],
        day_client_key(DAY, CLIENT),
    )
    return graph, loop


def test_the_graph_is_built_from_the_landing_tables(landing_loop):
    graph, _ = landing_loop
    meta = _metadata(graph, "pin_board_graph")
    assert meta["prune/edges_in"] == 87  # every save of the example is before the day
    assert meta["prune/edges_kept"] == 77  # distinct (pin, board) pairs: 10 saves repeat one
    assert meta["prune/pins"] == 23  # pin 99 was never saved
    assert meta["prune/boards"] == 70  # board 599 holds no pin
    assert all(check.passed for check in graph.get_asset_check_evaluations())


def test_labels_and_a_model_come_from_the_hand_made_serving_logs(landing_loop):
    _, loop = landing_loop
    observed = _metadata(loop, "serving_logs")
    assert observed["source"] == "landing" and observed["rows/serving_log"] == 100
    ingested = _metadata(loop, "serving_log_table")
    assert ingested["dagster/row_count"] == 100
    labels = _metadata(loop, "labeled_examples")
    # funnel_blended: the 3 candidates sent per request are examples and the 2 shown are
    # positive, except hidden ones: every 4th engagement is a hide, and of those 5 the last
    # carries no request_id (allowed), so 4 impressions are hidden
    assert labels["rows"] == 60 and labels["positives"] == 40 - 4
    model = _metadata(loop, "lightweight_model")
    assert model["model_version"] == "1" and model["strategy"] == "funnel_blended"


def test_candidates_need_no_world_in_landing_mode(landing_loop):
    """Traffic comes from observed recent engagement: 200 requests per 1,000 of the 13 users."""
    _, loop = landing_loop
    candidates = _metadata(loop, "walk_candidates")
    assert candidates["requests"] == round(200 * 13 / 1_000)
    assert candidates["candidates"] > 0
