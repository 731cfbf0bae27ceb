"""`dagster dev` driven through its GraphQL API, the way the UI drives it.

The loop is launched as the schedules and the demo run it: world first, then per day the day's
graph and then the day's three client partitions together. One asset backfill of all the days is
not used: the loop closes outside the asset graph (the graph of day D reads the saves that day
D-1's serving wrote, serving of day D uses the @champion that day D-1's evaluation promoted), so
the backfill daemon, which orders partitions only by declared dependencies, launches the graphs
of every day at once and then every day × client at once (observed with dagster 1.13).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.defs.partitions import day_client_key
from pixie_assets_tests.interfaces.harness import VENV_BIN, GraphQL, Server, free_port

LOCATION = "pixie_assets.definitions"
REPOSITORY = "__repository__"
REPOSITORY_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

# The loop the tests run: the first three days of the tiny world, every client.
START_DAY = "2026-11-01"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
CLIENTS = ["homefeed", "related_pins", "notifications"]

# Runs are launched with the in-process executor (a Launchpad setting): the day × client runs take
# ~25 s instead of ~90 s on two cores, because the default multiprocess executor starts one
# interpreter per step. PIXIE_E2E_EXECUTOR=multiprocess launches with the default config instead.
EXECUTOR = os.environ.get("PIXIE_E2E_EXECUTOR", "in_process")
RUN_CONFIG = {} if EXECUTOR == "multiprocess" else {"execution": {"config": {EXECUTOR: {}}}}

_LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}"""

_PARTITION_TAGS = """
query($repo: RepositorySelector!, $set: String!, $partition: String!) {
  partitionSetOrError(repositorySelector: $repo, partitionSetName: $set) {
    __typename
    ... on PartitionSet {
      partition(partitionName: $partition) {
        tagsOrError { __typename ... on PartitionTags { results { key value } }
                      ... on PythonError { message } }
      }
    }
  }
}"""

_RUNS = """
query($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) {
    ... on Runs { results { runId jobName status startTime endTime tags { key value } } }
  }
}"""

_RUN_EVENTS = """
query($id: ID!, $after: String) {
  logsForRun(runId: $id, afterCursor: $after, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events {
        __typename
        ... on MessageEvent { message stepKey }
        ... on AssetCheckEvaluationPlannedEvent { checkAssetKey: assetKey { path } checkName }
        ... on AssetCheckEvaluationEvent {
          evaluation {
            assetKey { path } checkName success partition description
            metadataEntries { label ... on TextMetadataEntry { text } }
          }
        }
        ... on ExecutionStepFailureEvent {
          stepError: error { message cause { message cause { message } } }
        }
        ... on RunFailureEvent { runError: error { message cause { message } } }
      }
    }
    ... on PythonError { message }
  }
}"""

_MATERIALIZATIONS = """
query($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset { assetMaterializations(partitions: $partitions, limit: 1000) {
      partition runId timestamp metadataEntries { label } } }
  }
}"""


@dataclass(frozen=True)
class UIs:
    """`make ui` running: the process group of both servers, and how to reach each."""

    server: Server
    graphql: GraphQL
    mlflow_url: str


# What `dagster dev` prints when the working directory holds a dagster.yaml that DAGSTER_HOME's
# instance does not read; `make ui` runs it from DAGSTER_HOME so that it never applies.
UNUSED_CONFIG_WARNING = "will not be used to configure Dagster"
# A setting the interface deployment's user added to its dagster.yaml: `make ui` must use it.
USER_SETTING = "code_servers:\n  local_startup_timeout: 361\n"


def start_ui(env: dict[str, str], log_dir: Path) -> UIs:
    """``make ui`` as the README gives it, on free ports: ready when Dagster's code location is
    loaded, every daemon reports healthy and MLflow answers /health."""
    dagster_port, mlflow_port = free_port(), free_port()
    argv = ["make", "ui", f"DAGSTER_PORT={dagster_port}", f"MLFLOW_PORT={mlflow_port}"]
    if VENV_BIN.parent != PROJECT_ROOT / ".venv":  # the tests' own environment, wherever it is
        argv.append(f"VENV={VENV_BIN.parent}")
    server = Server("make ui", argv, env=env, log_path=log_dir / "make_ui.log").start()
    graphql = GraphQL(f"http://127.0.0.1:{dagster_port}")
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    try:
        server.wait_until(
            lambda: graphql.session.get(f"{graphql.base_url}/server_info", timeout=5).ok,
            what="HTTP /server_info",
            timeout=120,
        )
        server.wait_until(lambda: _location_loaded(graphql), what="code location", timeout=120)
        server.wait_until(lambda: _daemons_healthy(graphql), what="healthy daemons", timeout=120)
        server.wait_until(
            lambda: requests.get(f"{mlflow_url}/health", timeout=5).text.strip() == "OK",
            what="MLflow /health",
            timeout=120,
        )
    except BaseException:
        server.stop()
        raise
    return UIs(server, graphql, mlflow_url)


def _location_loaded(graphql: GraphQL) -> bool:
    data = graphql(
        """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
             locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""
    )
    for entry in data["workspaceOrError"]["locationEntries"]:
        if entry["name"] != LOCATION or entry["loadStatus"] != "LOADED":
            continue
        location = entry["locationOrLoadError"]
        if location["__typename"] == "PythonError":
            raise AssertionError(
                f"code location {LOCATION} failed to load: {location['message']}\n"
                + "".join(location["stack"])
            )
        return location["__typename"] == "RepositoryLocation"
    return False


def _daemons_healthy(graphql: GraphQL) -> bool:
    data = graphql(
        "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
    )
    statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
    return bool(statuses) and all(s["healthy"] for s in statuses if s["required"])


@dataclass
class LaunchedRun:
    run_id: str
    job: str
    day: str | None = None
    client: str | None = None
    partition: str | None = None


@dataclass
class LoopRecord:
    """What the loop launched, how the runs ended and how long it took."""

    world: LaunchedRun | None = None
    graphs: dict[str, LaunchedRun] = field(default_factory=dict)  # by day
    clients: dict[tuple[str, str], LaunchedRun] = field(default_factory=dict)  # (day, client)
    runs: dict[str, dict] = field(default_factory=dict)  # run id -> runsOrError result
    failure: str | None = None
    seconds: float = 0.0
    day_seconds: dict[str, float] = field(default_factory=dict)  # graph + clients of a day

    @property
    def launched(self) -> list[LaunchedRun]:
        return [r for r in (self.world, *self.graphs.values(), *self.clients.values()) if r]


class DagsterUI:
    def __init__(self, graphql: GraphQL) -> None:
        self.graphql = graphql
        self.base_url = graphql.base_url

    def partition_tags(self, partition_set: str, partition: str) -> list[dict[str, str]]:
        """The tags the Launchpad puts on a run of this partition (partition and dimensions)."""
        data = self.graphql(
            _PARTITION_TAGS, repo=REPOSITORY_SELECTOR, set=partition_set, partition=partition
        )["partitionSetOrError"]
        assert data["__typename"] == "PartitionSet", data
        tags = data["partition"]["tagsOrError"]
        assert tags["__typename"] == "PartitionTags", tags
        return [{"key": t["key"], "value": t["value"]} for t in tags["results"]]

    def launch_run(self, job: str, tags: list[dict[str, str]] | None = None) -> str:
        params = {
            "selector": {**REPOSITORY_SELECTOR, "jobName": job},
            "runConfigData": RUN_CONFIG,
            "executionMetadata": {"tags": tags or []},
        }
        result = self.graphql(_LAUNCH_RUN, params=params)["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", f"launchRun {job}: {result}"
        return result["run"]["runId"]

    def runs(self, run_ids: list[str]) -> dict[str, dict]:
        results = self.graphql(_RUNS, ids=run_ids)["runsOrError"]["results"]
        return {r["runId"]: r for r in results}

    def wait_runs(self, run_ids: list[str], deadline: float) -> dict[str, dict]:
        """Poll until every run has finished (or the monotonic deadline passes)."""
        while True:
            runs = self.runs(run_ids)
            if len(runs) == len(run_ids) and all(r["status"] in FINISHED for r in runs.values()):
                return runs
            if time.monotonic() > deadline:
                pending = {i: r["status"] for i, r in runs.items() if r["status"] not in FINISHED}
                raise TimeoutError(f"runs still unfinished at the deadline: {pending}")
            time.sleep(1.0)

    def run_events(self, run_id: str) -> list[dict]:
        events, cursor = [], None
        while True:
            page = self.graphql(_RUN_EVENTS, id=run_id, after=cursor)["logsForRun"]
            assert page["__typename"] == "EventConnection", page
            events.extend(page["events"])
            cursor = page["cursor"]
            if not page["hasMore"]:
                return events

    def failure_details(self, run_id: str) -> str:
        lines = []
        for event in self.run_events(run_id):
            if event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent"):
                error = event.get("stepError") or event.get("runError")
                lines.append(f"{event.get('stepKey') or 'run'}: {event['message']}")
                while error:
                    lines.append(f"    {error['message'].strip()}")
                    error = error.get("cause")
        return "\n".join(lines) or "(no failure event)"

    def materializations(self, asset: str, partitions: list[str] | None) -> list[dict]:
        data = self.graphql(_MATERIALIZATIONS, key={"path": [asset]}, partitions=partitions)
        data = data["assetOrError"]
        assert data["__typename"] == "Asset", f"{asset}: {data}"
        return data["assetMaterializations"]


def run_loop(ui: DagsterUI, days: list[str], clients: list[str], timeout: float) -> LoopRecord:
    """World, then for each day in order: the day's graph, then its clients together. Stops at
    the first failed run and records why."""
    record = LoopRecord()
    started = time.monotonic()
    deadline = started + timeout

    def finish(run_ids: list[str]) -> bool:
        try:
            runs = ui.wait_runs(run_ids, deadline)
        except TimeoutError as error:
            record.failure = f"loop not done within {timeout:.0f}s: {error}"
            return False
        record.runs.update(runs)
        failed = [i for i, r in runs.items() if r["status"] != "SUCCESS"]
        if failed:
            record.failure = "\n\n".join(
                f"run {i} ({runs[i]['jobName']}, "
                f"{_tag(runs[i], 'dagster/partition')}) ended {runs[i]['status']}:\n"
                + ui.failure_details(i)
                for i in failed
            )
        return not failed

    try:
        record.world = LaunchedRun(ui.launch_run("world_job"), "world_job")
        if not finish([record.world.run_id]):
            return record
        for day in days:
            day_started = time.monotonic()
            tags = ui.partition_tags("graph_job_partition_set", day)
            graph = LaunchedRun(ui.launch_run("graph_job", tags), "graph_job", day, None, day)
            record.graphs[day] = graph
            if not finish([graph.run_id]):
                return record
            for client in clients:
                key = str(day_client_key(day, client))
                tags = ui.partition_tags("daily_client_job_partition_set", key)
                run_id = ui.launch_run("daily_client_job", tags)
                record.clients[day, client] = LaunchedRun(
                    run_id, "daily_client_job", day, client, key
                )
            if not finish([record.clients[day, c].run_id for c in clients]):
                return record
            record.day_seconds[day] = time.monotonic() - day_started
        return record
    finally:
        record.seconds = time.monotonic() - started


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)
