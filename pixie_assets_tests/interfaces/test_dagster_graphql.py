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


def test_each_check_result_names_its_partition_and_what_it_compared(dagster_dev, loop):
    """Issue 15 item 11, as the UI reads it: a check result's description is one line that
    starts with what it judged (client and day, or the day) and its metadata names the
    partition; the check specs are not partitioned, so nothing else would say it."""
    ui: DagsterUI = dagster_dev
    checked = 0
    for launched in loop.launched:
        if launched.partition is None:  # the world: unpartitioned
            continue
        for event in ui.run_events(launched.run_id):
            if event["__typename"] != "AssetCheckEvaluationEvent":
                continue
            evaluation = event["evaluation"]
            entries = {e["label"]: e.get("text") for e in evaluation["metadataEntries"]}
            what = f"{evaluation['assetKey']['path'][-1]}.{evaluation['checkName']}"
            assert entries.get("partition") == launched.partition, (what, entries)
            words = launched.partition.split("|")  # "client|day" or "day"
            description = evaluation["description"] or ""
            assert description == entries.get("description"), (what, evaluation)
            assert description.startswith(" ".join(words)) and ": " in description, (
                what,
                description,
            )
            assert "\n" not in description, (what, description)
            checked += 1
    assert checked > 0


_AUTOMATIONS = """
query($repo: RepositorySelector!) {
  repositoryOrError(repositorySelector: $repo) {
    ... on Repository { schedules { name description } sensors { name description } }
  }
}"""


def test_schedules_and_the_sensor_say_what_they_do(dagster_dev):
    ui: DagsterUI = dagster_dev
    repository = ui.graphql(_AUTOMATIONS, repo=REPOSITORY_SELECTOR)["repositoryOrError"]
    automations = repository["schedules"] + repository["sensors"]
    assert {a["name"] for a in repository["sensors"]} == {"landing_files_sensor"}
    assert len(repository["schedules"]) >= 2
    for automation in automations:
        assert len(automation["description"] or "") > 40, automation


def test_every_client_plots_its_evaluation_under_the_same_primary_keys(dagster_dev, loop):
    """The Plots tab compares like with like: each client's metric has its own name, but every
    evaluation also reports it under the same ``primary/…`` keys."""
    ui: DagsterUI = dagster_dev
    keys = [str(day_client_key(d, c)) for d in DAYS for c in CLIENTS]
    primary = {
        m["partition"]: {e["label"] for e in m["metadataEntries"] if _is_primary(e["label"])}
        for m in ui.materializations("model_evaluation", keys)
    }
    assert set(primary) == set(keys), primary
    first = primary[keys[0]]
    assert "primary/visit_count" in first, first
    by_day = {day: [primary[str(day_client_key(day, c))] for c in CLIENTS] for day in DAYS}
    for day, labels in by_day.items():
        assert all(label_set == labels[0] for label_set in labels), (day, labels)


def _is_primary(label: str) -> bool:
    return label.startswith("primary/")
