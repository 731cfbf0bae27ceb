"""The loop closed through the online service in landing mode (issue #16, Done when).

A tiny world's tables are exported into a landing folder, as a user's own exports would be, and
the world itself stays out of the loop: only a stand-in for the user's product (the full ranker
and the users, played from the world's hidden truth) talks to the service over HTTP. Day by day:

  serve D with the service → the product reports impressions and engagements (and its saves
  land) → D+1's graph is built → the service swaps it in and closes D's folders (_SUCCESS) →
  the landing sensor's run requests ingest D → the daily job labels, trains and evaluates D.

On day 2 the model trained on day 1 is evaluated on the logs the service wrote, wins against
visit count and becomes ``@champion``; the service, never restarted, loads it beside the old
state, swaps it in, reports it in /metrics and serves with it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import requests

from pixie_assets.core.clients import CLIENTS, client_config
from pixie_assets.definitions import defs
from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.defs.sensors import landing_files_sensor
from pixie_assets.ingest import read_partition_counts
from pixie_assets.landing import is_complete, partition_dir, write_landing_table
from pixie_assets.online.service import Service
from pixie_assets.training.registry import aliased_version
from pixie_assets.training.tracking import registered_model_name
from pixie_assets.world import World, generate_world
from pixie_assets.world.simulator import (
    SaveTargets,
    impressions_table,
    place_saves,
    run_full_ranker,
    simulate_user_actions,
)
from pixie_assets.world.store import write_world_landing
from pixie_assets_tests.loop import run
from pixie_assets_tests.online.running import running

pytestmark = pytest.mark.slow

CLIENT = "homefeed"
DAYS = [date(2026, 11, 1), date(2026, 11, 2)]  # served and trained on
NEXT_DAY = date(2026, 11, 3)  # served with the champion promoted on DAYS[1]
SEED = 7
# The world's homefeed traffic: 200 requests per 1,000 users a day.
CLIENT_REQUESTS_PER_USER = CLIENTS[CLIENT].requests_per_1k_users / 1_000


class Product:
    """The user's product around the service: it asks for candidates, its full ranker shows
    the best few, its users act on them (the world's hidden truth plays both), and it reports
    impressions and engagements back to the service; saves go to its boards' export."""

    def __init__(self, world: World, url: str, landing) -> None:
        self.truth = world.truth
        self.url = url
        self.landing = landing
        self.config = client_config(CLIENT)
        self.targets = SaveTargets.build(
            world.tables["boards"].to_pandas(), world.tables["pins"].to_pandas()
        )

    def recommend(self, user_id: int) -> dict:
        response = requests.post(
            f"{self.url}/v1/recommendations", json={"client": CLIENT, "user_id": user_id},
            timeout=60,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    def play_day(self, day: date, users: list[int]) -> list[dict]:
        """One day of traffic: a request per user, then what the product reports."""
        served = [self.recommend(user) | {"user_id": user} for user in users]
        noon = datetime.combine(day, time(12))
        sent = pd.DataFrame(
            [
                {
                    "request_id": s["request_id"],
                    "user_id": s["user_id"],
                    "ts": noon,
                    "pin_id": c["pin_id"],
                }  # fmt: skip
                for s in served
                for c in s["candidates"]
            ]
        )
        shown = run_full_ranker(self.truth, self.config, sent, seed=SEED)
        rng = np.random.default_rng([SEED, day.toordinal()])
        engagements = simulate_user_actions(self.truth, shown, CLIENT, rng)
        self._report("impressions", impressions_table(shown).to_pylist())
        self._report(
            "engagements",
            engagements.select(["user_id", "pin_id", "action", "request_id"]).to_pylist(),
        )
        saves = place_saves(engagements, self.targets)
        write_landing_table(self.landing, "saves", saves, name=f"product-{day}")
        return served

    def _report(self, table: str, rows: list[dict]) -> None:
        response = requests.post(
            f"{self.url}/v1/{table}", json={"client": CLIENT, table: rows}, timeout=60
        )
        assert response.status_code == 200 and response.json()["accepted"], response.text


def _sensor_runs(instance, pixie: PixieSettings, cursor: str | None):
    with dg.build_sensor_context(
        cursor=cursor, resources={"pixie": pixie}, instance=instance, definitions=defs
    ) as context:
        return landing_files_sensor.evaluate_tick(context)


def _metric_lines(url: str, name: str) -> list[str]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith(name)]


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """Runs the whole story once; the tests read what it recorded."""
    root = tmp_path_factory.mktemp("closed_loop")
    landing = root / "landing"
    world = generate_world("tiny", SEED, DAYS[0])
    write_world_landing(world, landing)
    pixie = PixieSettings(
        home=str(root / "home"), source="landing", landing=str(landing), world_scale="tiny",
        world_seed=SEED, start_day=DAYS[0].isoformat(),
    )  # fmt: skip
    settings = pixie.resolved()
    record: dict = {"settings": settings, "days": {}}
    run(pixie, ["pin_board_graph"], DAYS[0].isoformat())
    service = Service(settings, flush_seconds=0.2)
    cursor = None
    with running(service) as api, dg.instance_for_test() as instance:
        product = Product(world, api.url, landing)
        rng = np.random.default_rng(SEED)
        for day in DAYS:
            state = service.state
            assert state.day == day
            users = sorted(state.client(CLIENT).queries.starts)
            per_day = round(len(world.tables["users"]) * CLIENT_REQUESTS_PER_USER)
            chosen = rng.choice(users, min(per_day, len(users)), replace=False).tolist()
            served = product.play_day(day, chosen)
            after = day + timedelta(days=1)
            run(pixie, ["pin_board_graph"], after.isoformat())
            swap = requests.post(f"{api.url}/v1/admin/refresh", timeout=300).json()
            tick = _sensor_runs(instance, pixie, cursor)
            cursor = tick.cursor
            launched = sorted(r.partition_key for r in tick.run_requests)
            for request in tick.run_requests:  # what the daemon does: run ingest_job
                run(pixie, ["serving_log_table"], request.partition_key, instance)
            stages = run(pixie, DAY_CLIENT_ASSETS, day_client_key(day.isoformat(), CLIENT),
                         instance)  # fmt: skip  # the daily schedule's job
            record["days"][day] = {
                "served": served, "swap": swap, "launched": launched, "stages": stages,
                "counts": read_partition_counts(settings.duckdb_path, day, CLIENT),
            }  # fmt: skip
        record["champion"] = aliased_version(settings, CLIENT, "champion")
        record["before_refresh"] = requests.get(f"{api.url}/readyz", timeout=10).json()
        record["refresh"] = requests.post(f"{api.url}/v1/admin/refresh", timeout=300).json()
        record["model_info"] = _metric_lines(api.url, "pixie_model_info")
        record["swaps"] = _metric_lines(api.url, "pixie_state_swaps_total")
        next_user = sorted(service.state.client(CLIENT).queries.starts)[0]
        record["next_day"] = product.recommend(next_user)
    return record


def test_each_served_day_is_closed_and_ingested_from_the_services_files(loop):
    settings = loop["settings"]
    for day, seen in loop["days"].items():
        assert seen["swap"]["swapped"] and seen["swap"]["day"] == (day + timedelta(1)).isoformat()
        for table in ("serving_log", "impressions", "engagements"):
            assert is_complete(partition_dir(settings.landing_dir, table, day.isoformat(), CLIENT))
        # every client's folders were closed, so the sensor launched each partition once
        assert seen["launched"] == sorted(str(day_client_key(day.isoformat(), c)) for c in CLIENTS)
        served_rows = sum(1 for s in seen["served"] for _ in s["candidates"])
        counts = seen["counts"]
        # every candidate is logged, not only the M sent: more rows than were returned
        assert counts["serving_log"] > served_rows > 0
        assert 0 < counts["impressions"] <= served_rows
        assert counts["engagements"] > 0


def test_labels_and_a_model_come_from_what_the_service_logged(loop):
    for seen in loop["days"].values():
        stages = seen["stages"]
        labels = stages.asset_materializations_for_node("labeled_examples")[0].metadata
        assert labels["rows"].value > 0 and labels["positives"].value > 0
        model = stages.asset_materializations_for_node("lightweight_model")[0].metadata
        assert model["model_version"].value
        assert all(check.passed for check in stages.get_asset_check_evaluations()), [
            (c.check_name, c.metadata) for c in stages.get_asset_check_evaluations() if not c.passed
        ]


def test_day_one_is_served_by_visit_count_and_its_model_is_promoted_on_day_two(loop):
    first, second = (loop["days"][day]["served"] for day in DAYS)
    assert {s["model_version"] for s in first + second} == {"visit_count"}
    assert loop["champion"] == "1"  # trained on day 1, judged on day 2's logs
    evaluation = (
        loop["days"][DAYS[1]]["stages"]
        .asset_materializations_for_node("model_evaluation")[0]
        .metadata
    )
    assert evaluation["reason"].value.startswith("wins: "), evaluation["reason"].value
    assert loop["before_refresh"]["models"][CLIENT] == "visit_count"


def test_the_running_service_swaps_in_the_new_champion_and_serves_with_it(loop):
    version = f"{registered_model_name(CLIENT)}/{loop['champion']}"
    assert loop["refresh"] == {
        "swapped": True,
        "day": NEXT_DAY.isoformat(),
        "models": loop["refresh"]["models"],
    }
    assert loop["refresh"]["models"][CLIENT] == version
    assert (
        f'pixie_model_info{{client="{CLIENT}",model_version="{version}"}} 1.0' in loop["model_info"]
    )
    assert loop["swaps"] == ["pixie_state_swaps_total 3.0"]  # two new days, one champion
    assert loop["next_day"]["model_version"] == version
    assert loop["next_day"]["day"] == NEXT_DAY.isoformat()
