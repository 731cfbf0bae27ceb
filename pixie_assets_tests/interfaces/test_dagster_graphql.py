"""The loop and the schedules through the GraphQL API of `dagster dev` (what the UI calls)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets.defs.partitions import day_client_key
from pixie_assets_tests.interfaces.dagster_ui import CLIENTS, DAYS, REPOSITORY_SELECTOR, DagsterUI


def test_three_days_by_three_clients_materialize_with_every_check_passing(dagster_dev, loop):
    """The package's `loop` fixture launched world_job, then per day graph_job and the three
    daily_client_job partitions, with launchRun and the partition set's tags (as the Launchpad
    does), in day order: one asset backfill cannot keep the loop's day order (see dagster_ui)."""
    assert loop.failure is None, loop.failure
    ui: DagsterUI = dagster_dev

    # Every asset partition is materialized, by the run launched for it.
    world = ui.materializations("world", None)
    assert loop.world.run_id in {m["runId"] for m in world}
    graph_materializations = {
        m["partition"]: m for m in ui.materializations("pin_board_graph", DAYS)
    }
    for day in DAYS:
        assert graph_materializations[day]["runId"] == loop.graphs[day].run_id, day
    stamps: dict[tuple[str, str, str], float] = {}
    keys = [str(day_client_key(d, c)) for d in DAYS for c in CLIENTS]
    for asset in DAY_CLIENT_ASSETS:
        by_partition = {}
        for m in ui.materializations(asset, keys):
            by_partition.setdefault(m["partition"], []).append(m)
        for day in DAYS:
            for client in CLIENTS:
                launched = loop.clients[day, client]
                mine = [
                    m
                    for m in by_partition.get(launched.partition, [])
                    if m["runId"] == launched.run_id
                ]
                assert len(mine) == 1, f"{asset} {launched.partition}: {by_partition}"
                stamps[asset, day, client] = float(mine[0]["timestamp"])

    # Every asset check planned in any run of the loop was evaluated there and passed.
    evaluated = []
    for launched in loop.launched:
        events = ui.run_events(launched.run_id)
        planned = {
            (tuple(e["checkAssetKey"]["path"]), e["checkName"])
            for e in events
            if e["__typename"] == "AssetCheckEvaluationPlannedEvent"
        }
        evaluations = [
            e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"
        ]
        done = {(tuple(e["assetKey"]["path"]), e["checkName"]) for e in evaluations}
        assert done == planned, f"run {launched.run_id} ({launched.partition}): {planned=} {done=}"
        failed = [e for e in evaluations if not e["success"]]
        assert not failed, f"run {launched.run_id} ({launched.partition}): failed checks {failed}"
        evaluated += [
            (launched.partition, e["assetKey"]["path"][-1], e["checkName"]) for e in evaluations
        ]
    # the blocking label check guards training in every day × client
    for key in keys:
        assert (key, "labeled_examples", "label_rate") in evaluated, key

    # Day order held: day D's graph after day D-1's serving, day D's serving after D-1's
    # evaluation (the loop closes through landing saves and the @champion alias).
    runs = loop.runs
    for previous, day in zip(DAYS, DAYS[1:], strict=False):
        graph_start = runs[loop.graphs[day].run_id]["startTime"]
        assert all(
            graph_start >= runs[loop.clients[previous, c].run_id]["endTime"] for c in CLIENTS
        )
        for client in CLIENTS:
            assert (
                stamps["serving_logs", day, client] > stamps["model_evaluation", previous, client]
            )


_DRY_RUN = """
mutation($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick {
      evaluationResult {
        skipReason
        error { message }
        runRequests { runKey jobName tags { key value } }
      }
    }
    ... on PythonError { message }
    ... on ScheduleNotFoundError { message }
  }
}"""

_SCHEDULE = """
query($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename ... on Schedule { cronSchedule executionTimezone pipelineName }
  }
}"""


def _dry_run(ui: DagsterUI, schedule: str, at: datetime) -> list[dict]:
    """The UI's "Test schedule" at a chosen tick time: the run requests the schedule makes."""
    selector = {**REPOSITORY_SELECTOR, "scheduleName": schedule}
    result = ui.graphql(_DRY_RUN, selector=selector, timestamp=at.timestamp())["scheduleDryRun"]
    assert result["__typename"] == "DryRunInstigationTick", result
    evaluation = result["evaluationResult"]
    assert evaluation["error"] is None and evaluation["skipReason"] is None, evaluation
    return [
        {**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in evaluation["runRequests"]
    ]


def test_loop_schedule_requests_yesterday_for_each_client(dagster_dev):
    ui: DagsterUI = dagster_dev
    selector = {**REPOSITORY_SELECTOR, "scheduleName": "daily_loop_schedule"}
    schedule = ui.graphql(_SCHEDULE, selector=selector)["scheduleOrError"]
    assert schedule["cronSchedule"] == "30 1 * * *"
    assert schedule["executionTimezone"] == "UTC"
    assert schedule["pipelineName"] == "daily_client_job"

    requests = _dry_run(ui, "daily_loop_schedule", datetime(2026, 11, 5, 1, 30, tzinfo=UTC))
    expected = [dg.MultiPartitionKey({"day": "2026-11-04", "client": c}) for c in CLIENTS]
    assert len(requests) == len(CLIENTS)
    assert {r["jobName"] for r in requests} == {"daily_client_job"}
    got = [
        {"day": r["tags"]["dagster/partition/day"], "client": r["tags"]["dagster/partition/client"]}
        for r in requests
    ]
    assert sorted(got, key=str) == sorted((k.keys_by_dimension for k in expected), key=str)
    assert sorted(r["tags"]["dagster/partition"] for r in requests) == sorted(map(str, expected))
    assert len({r["runKey"] for r in requests}) == len(CLIENTS)


def test_graph_schedule_requests_yesterday_before_the_loop(dagster_dev):
    ui: DagsterUI = dagster_dev
    requests = _dry_run(ui, "daily_graph_schedule", datetime(2026, 11, 5, 0, 30, tzinfo=UTC))
    assert [(r["jobName"], r["tags"]["dagster/partition"]) for r in requests] == [
        ("graph_job", "2026-11-04")
    ]
