"""The online service over a tiny world after two days of the loop (so every client has a
``@champion``), serving day 3: its candidates, features and scores are the batch path's; bad
requests get a 4xx that says why; /metrics and /readyz report what is served; logging is shed,
not requests, when its queue is full; a moved ``@champion`` is swapped in under load without a
failed request."""

from __future__ import annotations

import json
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from pixie_assets.core.clients import client_config
from pixie_assets.core.contract import SERVING_LOG
from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.graph import load_graph
from pixie_assets.landing import data_files, is_complete, partition_dir
from pixie_assets.landing.sources import day_feature_context, read_table
from pixie_assets.online.recommend import request_seed
from pixie_assets.online.service import Service
from pixie_assets.serving.candidates import request_batch, walk_requests
from pixie_assets.serving.queries import engagement_weights, recent_engagement_queries
from pixie_assets.training.registry import load_scorer
from pixie_assets.training.tracking import configure_mlflow, registered_model_name
from pixie_assets_tests.interfaces.harness import Server, free_port, pixie_env
from pixie_assets_tests.loop import run, run_day
from pixie_assets_tests.online.running import running
from pixie_assets_tests.readme import bash_commands

pytestmark = pytest.mark.slow

CLIENTS = ["homefeed", "related_pins", "notifications"]
DAYS = ["2026-11-01", "2026-11-02"]
SERVE_DAY = "2026-11-03"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """World, two days of every client (day 2 promotes day 1's models), day 3's graph."""
    home = tmp_path_factory.mktemp("online") / "pixie_home"
    home.mkdir()
    pixie = PixieSettings(home=str(home), world_scale="tiny", world_seed=7,
                          start_day=DAYS[0])  # fmt: skip
    run(pixie, ["world"])
    for day in DAYS:
        run_day(pixie, day, CLIENTS)
    run(pixie, ["pin_board_graph"], SERVE_DAY)
    return pixie.resolved()


@pytest.fixture(scope="module")
def service(deployment):
    service = Service(deployment, flush_seconds=0.2)
    yield service
    service.close()


@pytest.fixture(scope="module")
def api(service):
    with running(service) as up:
        yield up


def _users(service: Service, client: str, n: int) -> list[int]:
    return sorted(service.state.client(client).queries.starts)[:n]


def _post(api, body: dict) -> requests.Response:
    return requests.post(f"{api.url}/v1/recommendations", json=body, timeout=60)


def test_every_client_serves_its_champion_on_the_newest_graph(api):
    ready = requests.get(f"{api.url}/readyz", timeout=10).json()
    assert ready["day"] == SERVE_DAY
    # the tiny world's 12k pins: scanning the whole tables costs less than keying them
    assert ready["features"] == {client: "whole" for client in CLIENTS}
    for client in CLIENTS:
        assert ready["models"][client].startswith(f"{registered_model_name(client)}/"), ready


def test_candidates_features_and_scores_are_the_batch_paths(api, deployment):
    """Requests through HTTP, their logged rows read back from the landing folder, and the same
    requests through the batch path's functions (engagement weights, walk_requests at position
    0 with the request's seed, a feature context built as serving_logs builds it, the scorer
    loaded from the registry): the same candidates, the same features, the same scores."""
    service: Service = api.service
    client, config = "homefeed", client_config("homefeed")
    served = {}
    for user in _users(service, client, 12):
        response = _post(api, {"client": client, "user_id": user})
        assert response.status_code == 200, response.text
        served[response.json()["request_id"]] = (user, response.json())
    service.landing.flush()
    folder = partition_dir(deployment.landing_dir, "serving_log", SERVE_DAY, client)
    logged = pa.concat_tables([pq.ParquetFile(f).read() for f in data_files(folder)]).to_pandas()
    logged = logged[logged["request_id"].isin(served)].reset_index(drop=True)
    assert set(logged["request_id"]) == set(served)

    day = date.fromisoformat(SERVE_DAY)
    since = day - timedelta(days=config.query_lookback_days)
    engagements = read_table(deployment, "engagements", before=day, since=since).to_pandas()
    weights = engagement_weights(engagements, config, day)
    graph = load_graph(deployment.graph_day_dir(SERVE_DAY))
    locales = read_table(deployment, "users", columns=["user_id", "locale"]).to_pandas()
    version = next(iter(served.values()))[1]["model_version"]
    scorer = load_scorer(deployment, client, version.rsplit("/", 1)[1])
    context = day_feature_context(deployment, day, scorer.feature_spec)
    for request_id, (_user, body) in served.items():
        rows = logged[logged["request_id"] == request_id].reset_index(drop=True)
        requests_df = rows.iloc[:1][["request_id", "user_id", "ts"]]
        queries = recent_engagement_queries(requests_df, weights, config)
        batch = request_batch(requests_df, queries, locales.set_index("user_id")["locale"])
        seed = request_seed(service.state, client, request_id)
        candidates, _ = walk_requests(graph, batch, config, seed, offset=0)
        rows = rows.sort_values("visit_rank").reset_index(drop=True)
        for column in ("pin_id", "visit_count", "visit_rank"):
            np.testing.assert_array_equal(rows[column], candidates[column], err_msg=column)
        features = context.featurize(candidates)
        for name in scorer.feature_spec.feature_names:
            if name in SERVING_LOG.names:
                np.testing.assert_allclose(
                    rows[name].to_numpy(np.float64),
                    features[name].to_numpy().astype(np.float64),
                    rtol=0, atol=1e-9, err_msg=name,
                )  # fmt: skip
        np.testing.assert_allclose(rows["lightweight_score"], scorer.score(features), rtol=1e-6)
        sent = rows[rows["sent_to_full_ranker"]]
        assert sorted(sent["pin_id"]) == sorted(c["pin_id"] for c in body["candidates"])
        assert (rows["model_version"] == version).all()
    context.close()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"client": "search", "user_id": 1}, 400, "unknown client 'search'"),
        ({"client": "homefeed", "user_id": -42}, 400, "user -42 has no engagements"),
        ({"client": "related_pins", "user_id": 1}, 400, "give it as query_pins"),
        ({"client": "homefeed", "user_id": "x"}, 422, "user_id"),
        ({"client": "homefeed"}, 422, "user_id"),
        ({"client": "homefeed", "user_id": 1, "query_pins": [{"pin_id": 1, "weight": -1}]},
         422, "weight"),
    ],
)  # fmt: skip
def test_a_bad_request_gets_a_4xx_that_says_why_and_the_service_goes_on(api, body, status, says):
    response = _post(api, body)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"], response.json()
    user = _users(api.service, "homefeed", 1)[0]
    assert _post(api, {"client": "homefeed", "user_id": user}).status_code == 200


def test_related_pins_walks_from_the_pin_being_viewed(api):
    pin = int(api.service.state.client("related_pins").queries.pins[0])
    response = _post(api, {"client": "related_pins", "user_id": 1, "query_pins": [{"pin_id": pin}]})
    assert response.status_code == 200, response.text
    pins = [c["pin_id"] for c in response.json()["candidates"]]
    assert pins and pin not in pins  # query pins are never their own candidates


def test_metrics_report_latency_requests_models_and_the_graph_day(api):
    user = _users(api.service, "notifications", 1)[0]
    assert _post(api, {"client": "notifications", "user_id": user}).status_code == 200
    assert _post(api, {"client": "notifications", "user_id": -1}).status_code == 400
    text = requests.get(f"{api.url}/metrics", timeout=10).text
    assert 'pixie_request_seconds_bucket{client="notifications",le="0.06"}' in text
    assert 'pixie_requests_total{client="notifications",status="400"}' in text
    version = api.service.state.client("notifications").model_version
    assert f'pixie_model_info{{client="notifications",model_version="{version}"}} 1.0' in text
    (day_line,) = [
        line for line in text.splitlines() if line.startswith("pixie_graph_day_seconds ")
    ]
    assert float(day_line.split()[1]) == pd.Timestamp(SERVE_DAY, tz="UTC").timestamp()


def test_metrics_count_logged_rows_and_rows_that_could_not_be_logged(api):
    """A micro-batch that cannot be written (here: impressions without their columns) is counted
    in /metrics by table, beside the rows written; the service goes on logging."""
    service: Service = api.service
    user = _users(service, "homefeed", 1)[0]
    assert _post(api, {"client": "homefeed", "user_id": user}).status_code == 200
    broken = pa.table({"request_id": ["homefeed:x"], "pin_id": ["not a pin id"]})
    assert service.log_rows("impressions", "homefeed", broken)
    service.landing.flush()
    text = requests.get(f"{api.url}/metrics", timeout=10).text

    def counted(name: str, table: str) -> float:
        (line,) = [x for x in text.splitlines() if x.startswith(f'{name}{{table="{table}"}}')]
        return float(line.split()[-1])

    assert counted("pixie_log_rows_failed_total", "impressions") == 1
    assert counted("pixie_log_rows_failed_total", "serving_log") == 0
    assert counted("pixie_log_rows_written_total", "serving_log") > 0
    assert counted("pixie_log_rows_shed_total", "serving_log") == 0


def test_a_moved_champion_is_swapped_in_under_load_without_a_failed_request(api, deployment):
    """Requests keep coming from four threads while ``@champion`` moves to another version and
    the service refreshes: every response is 200, each names the model it was served with, the
    ones after the swap the new one."""
    service: Service = api.service
    client = "homefeed"
    before = service.state.client(client).model_version
    registry = configure_mlflow(deployment)
    name = registered_model_name(client)
    versions = sorted(int(v.version) for v in registry.search_model_versions(f"name = '{name}'"))
    target = str(next(v for v in reversed(versions) if f"{name}/{v}" != before))
    users = _users(service, client, 40)
    stop = threading.Event()
    seen: list[tuple[int, str]] = []
    progress = threading.Condition()

    def hammer(offset: int) -> None:
        for i in range(offset, offset + 400):  # bounded, whatever happens
            if stop.is_set():
                return
            r = _post(api, {"client": client, "user_id": users[i % len(users)]})
            with progress:
                seen.append((r.status_code, r.json().get("model_version", r.text)))
                progress.notify_all()

    def responses_reach(n: int) -> None:
        with progress:
            assert progress.wait_for(lambda: len(seen) >= n, timeout=120), len(seen)

    with ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(hammer, 1000 * n) for n in range(4)]
        responses_reach(20)  # the load is on before the swap
        registry.set_registered_model_alias(name, "champion", target)
        swap = requests.post(f"{api.url}/v1/admin/refresh", timeout=120).json()
        responses_reach(len(seen) + 20)
        stop.set()
        for worker in workers:
            worker.result()
    assert swap["swapped"] and swap["models"][client] == f"{name}/{target}", swap
    # the new version shares the day's features with the clients of the same feature spec
    assert service.state.client(client).features is service.state.client("related_pins").features
    assert all(status == 200 for status, _ in seen), [s for s in seen if s[0] != 200][:5]
    assert {model for _, model in seen} <= {before, f"{name}/{target}"}
    assert seen[-1][1] == f"{name}/{target}"
    text = requests.get(f"{api.url}/metrics", timeout=10).text
    assert f'pixie_model_info{{client="{client}",model_version="{name}/{target}"}} 1.0' in text
    registry.set_registered_model_alias(name, "champion", before.rsplit("/", 1)[1])
    service.refresh()


def test_make_serve_starts_the_service_as_the_readme_gives_it(deployment, tmp_path):
    command = bash_commands("The online service")[0]
    assert command == "make serve"
    port = free_port()
    env = pixie_env(deployment.home, scale="tiny", seed=7, start_day=DAYS[0])
    env["PIXIE_SERVE_PORT"] = str(port)
    server = Server("make serve", command.split(), env=env, log_path=tmp_path / "serve.log").start()
    try:
        ready = server.wait_until(
            lambda: _ready(f"http://127.0.0.1:{port}"),
            what="/readyz",
            timeout=120,
        )
        assert ready["day"] == SERVE_DAY and set(ready["models"]) == set(CLIENTS)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {
            "status": "ok"
        }
    finally:
        server.stop()


def _ready(url: str) -> dict | None:
    response = requests.get(f"{url}/readyz", timeout=5)
    return response.json() if response.status_code == 200 else None


def test_the_online_benchmark_runs_as_written(deployment):
    commands = bash_commands("The online service")
    assert commands[0] == "make serve" and commands[1].startswith("DEPLOYMENT=")
    benchmark = [c for c in commands if c.startswith(".venv/bin/python benchmarks/online.py")]
    assert len(benchmark) == 1, commands
    env = pixie_env(deployment.home, scale="tiny", seed=7, start_day=DAYS[0])
    script = "set -euo pipefail\n" + "\n".join([f"DEPLOYMENT={deployment.home}", *benchmark])
    done = subprocess.run(["bash", "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [level["concurrency"] for level in report["levels"]] == [1, 2]
    assert report["errors"] == 0 and report["qps"] > 0 and report["p99_ms"] > report["p50_ms"] > 0
    assert report["steps_per_request"] == 100_000 and 0 < report["mean_walk_steps"] <= 100_000
    stages = report["stages_ms"]  # what bounds the service, timed stage by stage
    assert set(stages) == {
        "walks",
        "features_1",
        "features_per_request_in_8",
        "features_1_whole_context",
        "score",
        "funnel_and_log",
    }
    assert all(ms > 0 for ms in stages.values()), stages


def test_impressions_and_engagements_are_logged_on_the_serving_day(api, deployment):
    user = _users(api.service, "homefeed", 1)[0]
    served = _post(api, {"client": "homefeed", "user_id": user}).json()
    pins = [c["pin_id"] for c in served["candidates"][:3]]
    impressions = [
        {"request_id": served["request_id"], "pin_id": pin, "position": i,
         "full_ranker_score": 1.0 - i / 10}
        for i, pin in enumerate(pins)
    ]  # fmt: skip
    body = {"client": "homefeed", "impressions": impressions}
    response = requests.post(f"{api.url}/v1/impressions", json=body, timeout=30)
    assert response.json() == {"accepted": True}
    engagement = {"user_id": user, "pin_id": pins[0], "action": "save",
                  "request_id": served["request_id"]}  # fmt: skip
    body = {"client": "homefeed", "engagements": [engagement]}
    response = requests.post(f"{api.url}/v1/engagements", json=body, timeout=30)
    assert response.json() == {"accepted": True}
    bad = requests.post(f"{api.url}/v1/engagements", timeout=30, json={
        "client": "homefeed", "engagements": [{**engagement, "action": "like"}]})  # fmt: skip
    assert bad.status_code == 400 and "unknown action(s) ['like']" in bad.json()["detail"]
    api.service.landing.flush()

    def logged(table: str) -> pd.DataFrame:
        folder = partition_dir(deployment.landing_dir, table, SERVE_DAY, "homefeed")
        return pa.concat_tables([pq.ParquetFile(f).read() for f in data_files(folder)]).to_pandas()

    shown = logged("impressions")
    shown = shown[shown["request_id"] == served["request_id"]]
    assert shown.sort_values("position")["pin_id"].tolist() == pins
    saved = logged("engagements")
    saved = saved[saved["request_id"] == served["request_id"]]
    assert saved[["user_id", "pin_id", "action", "client"]].values.tolist() == [
        [user, pins[0], "save", "homefeed"]
    ]
    assert (saved["ts"].dt.date.astype(str) == SERVE_DAY).all()


def test_a_new_days_graph_is_swapped_in_and_closes_the_served_day(api, deployment):
    """Last in this module (it moves the service to the next day): day 4's graph is built,
    a refresh swaps it in, and day 3's landing folders of every client are closed with
    ``_SUCCESS`` (the marker the landing sensor waits for)."""
    user = _users(api.service, "homefeed", 1)[0]
    assert _post(api, {"client": "homefeed", "user_id": user}).status_code == 200
    next_day = (date.fromisoformat(SERVE_DAY) + timedelta(days=1)).isoformat()
    pixie = PixieSettings.from_settings(deployment)
    run(pixie, ["pin_board_graph"], next_day)
    swap = requests.post(f"{api.url}/v1/admin/refresh", timeout=120).json()
    assert swap["swapped"] and swap["day"] == next_day, swap
    for client in CLIENTS:
        for table in ("serving_log", "impressions"):
            folder = partition_dir(deployment.landing_dir, table, SERVE_DAY, client)
            assert is_complete(folder), folder
    assert requests.get(f"{api.url}/readyz", timeout=10).json()["day"] == next_day
    served = _post(api, {"client": "homefeed", "user_id": user})
    assert served.status_code == 200 and served.json()["day"] == next_day


def test_impressions_reported_after_a_swap_land_on_their_requests_day(api, deployment):
    """After day 3's close, impressions of a day-3 request still belong to day 3 (its folder is
    written again and stays marked); those of a day-4 request to day 4."""
    service: Service = api.service
    next_day = service.state.day.isoformat()
    assert next_day > SERVE_DAY  # after the swap test above
    old = next(f for f in data_files(partition_dir(deployment.landing_dir, "serving_log",
                                                   SERVE_DAY, "homefeed")))  # fmt: skip
    old_request = pq.read_table(old, columns=["request_id"])["request_id"][0].as_py()
    assert old_request.split(":")[1] == SERVE_DAY
    user = _users(service, "homefeed", 1)[0]
    new_request = _post(api, {"client": "homefeed", "user_id": user}).json()["request_id"]
    body = {"client": "homefeed", "impressions": [
        {"request_id": rid, "pin_id": 7, "position": 0, "full_ranker_score": 1.0}
        for rid in (old_request, new_request)]}  # fmt: skip
    assert requests.post(f"{api.url}/v1/impressions", json=body, timeout=30).json()["accepted"]
    service.landing.flush()
    for day, request_id in ((SERVE_DAY, old_request), (next_day, new_request)):
        folder = partition_dir(deployment.landing_dir, "impressions", day, "homefeed")
        ids = pa.concat_tables([pq.read_table(f) for f in data_files(folder)])["request_id"]
        assert request_id in ids.to_pylist(), (day, request_id)
    assert is_complete(partition_dir(deployment.landing_dir, "impressions", SERVE_DAY, "homefeed"))


def test_a_restarted_service_closes_the_day_it_was_stopped_on(api, deployment):
    """A service stopped before the next day's graph was swapped in leaves that day open; the
    next start, on the newer graph, closes it. Here: day 4 holds the running service's rows,
    day 5's graph is built, and a second service (the restart) closes day 4 on start."""
    service: Service = api.service
    day4 = service.state.day.isoformat()
    day5 = (date.fromisoformat(day4) + timedelta(days=1)).isoformat()
    service.landing.flush()  # what stopping the first service does
    folder = partition_dir(deployment.landing_dir, "serving_log", day4, "homefeed")
    assert data_files(folder) and not is_complete(folder)
    run(PixieSettings.from_settings(deployment), ["pin_board_graph"], day5)
    restarted = Service(deployment, flush_seconds=0.2)
    try:
        assert restarted.state.day.isoformat() == day5
        for client in CLIENTS:
            for table in ("serving_log", "impressions"):
                assert is_complete(partition_dir(deployment.landing_dir, table, day4, client))
        assert restarted.landing.open_days_before(day5, tuple(CLIENTS)) == []
    finally:
        restarted.close()
