"""The demo's runs are runs of the code location (issue 15 item 1): after one demo day on the tiny
world, `make ui` (`dagster dev -w workspace.yaml`) on the same instance lists them where it lists
the runs it launched, asked over GraphQL with the queries the UI sends.

Before, the demo's ``execute_in_process`` runs carried no code-location origin: they were in the
run history only, and every location-scoped view (a job's Runs tab, the Jobs page, the Overview
timeline) came up empty.
"""

from __future__ import annotations

import json
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.training.tracking import registered_model_name
from pixie_assets_tests.interfaces import harness
from pixie_assets_tests.interfaces.chromium import WINDOW
from pixie_assets_tests.interfaces.dagster_ui import (
    CLIENTS,
    LOCATION,
    REPOSITORY,
    START_DAY,
    UIs,
    start_ui,
)

pytestmark = pytest.mark.slow

DEMO_TIMEOUT_SECONDS = 10 * 60
# The hidden tag the UI scopes a location's runs by (DagsterTag.RepositoryLabelTag in the UI).
REPOSITORY_LABEL_TAG = ".dagster/repository"
LABEL = f"{REPOSITORY}@{LOCATION}"
DONE = ["SUCCESS", "FAILURE", "CANCELED"]

# Each job of the demo's day and the partitions of its runs (None: unpartitioned).
EXPECTED = {
    "world_job": {None},
    "graph_job": {START_DAY},
    "daily_client_job": {str(day_client_key(START_DAY, c)) for c in CLIENTS},
}

_RUN_FIELDS = """runId jobName status tags { key value }
                 repositoryOrigin { repositoryName repositoryLocationName }"""

# A job's Runs tab (PipelineRunsFeedRoot): the runs feed filtered by job name and location label.
_RUNS_TAB = f"""
query($filter: RunsFilter!) {{
  runsFeedOrError(limit: 30, filter: $filter, view: RUNS) {{
    __typename
    ... on RunsFeedConnection {{ results {{ __typename ... on Run {{ {_RUN_FIELDS} }} }} }}
    ... on PythonError {{ message }}
  }}
}}"""

# The job of the location (Jobs page, job overview): its `runs` filter by the location label too.
_JOB_RUNS = f"""
query($selector: PipelineSelector!) {{
  pipelineOrError(params: $selector) {{
    __typename
    ... on Pipeline {{ runs {{ {_RUN_FIELDS} }} }}
    ... on PipelineNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}"""

# The Overview timeline (CompletedRunTimelineQuery): finished runs updated in the time range,
# each placed in a row by its repositoryOrigin and job name (runs without an origin are dropped).
_TIMELINE = f"""
query($filter: RunsFilter!) {{
  runsOrError(filter: $filter, limit: 500) {{
    __typename
    ... on Runs {{ results {{ {_RUN_FIELDS} }} }}
    ... on PythonError {{ message }}
  }}
}}"""


@dataclass(frozen=True)
class DemoThenUI:
    graphql: harness.GraphQL
    started: float  # Unix time before the demo started
    uis: UIs
    env: dict[str, str]
    demo_output: str


def _run_demo(env: dict[str, str], log_path: Path) -> None:
    """``python -m pixie_assets.demo`` (what ``make demo`` runs) to its end; its output is kept."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [str(harness.VENV_BIN / "python"), "-m", "pixie_assets.demo"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=DEMO_TIMEOUT_SECONDS,
        )
    output = log_path.read_text(errors="replace")
    assert done.returncode == 0, f"demo exited {done.returncode}:\n{output[-4000:]}"
    assert output.count(": ok in ") == sum(len(p) for p in EXPECTED.values()), output[-4000:]


@pytest.fixture(scope="module")
def demo_then_ui(tmp_path_factory) -> Iterator[DemoThenUI]:
    """One demo day on a private tiny deployment, then `make ui` on its instance."""
    base = tmp_path_factory.mktemp("demo_runs_in_ui")
    home = base / "pixie_home"
    home.mkdir()
    env = harness.pixie_env(home, scale="tiny", seed=7, start_day=START_DAY)
    env["PIXIE_DEMO_DAYS"] = "1"
    started = time.time()
    _run_demo(env, base / "logs" / "demo.log")
    demo_output = (base / "logs" / "demo.log").read_text(errors="replace")
    ended = time.time()
    harness.TIMINGS["demo: 1 day, tiny world"] = ended - started
    uis = start_ui(env, base / "logs")
    harness.TIMINGS["make ui ready on the demo's instance"] = time.time() - ended
    try:
        yield DemoThenUI(uis.graphql, started, uis, env, demo_output)
    finally:
        uis.server.stop()


def _partition(run: dict) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == "dagster/partition"), None)


def _assert_demo_runs(runs: list[dict], job: str) -> None:
    """The job's runs are the demo's: one per expected partition, each successful, each of the
    location."""
    assert all(r["jobName"] == job for r in runs), runs
    assert sorted(map(str, map(_partition, runs))) == sorted(map(str, EXPECTED[job])), runs
    assert all(r["status"] == "SUCCESS" for r in runs), runs
    for run in runs:
        origin = run["repositoryOrigin"]
        assert origin == {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}, run


def _runs_tab(ui: DemoThenUI, job: str, label: str = LABEL) -> list[dict]:
    tags = [{"key": REPOSITORY_LABEL_TAG, "value": label}]
    feed = ui.graphql(_RUNS_TAB, filter={"pipelineName": job, "tags": tags})["runsFeedOrError"]
    assert feed["__typename"] == "RunsFeedConnection", feed
    return feed["results"]


@pytest.mark.parametrize("job", list(EXPECTED))
def test_each_job_of_the_location_lists_the_demo_runs(demo_then_ui, job):
    """(a) daily_client_job lists the day's 3 day × client runs, (b) world_job and graph_job
    their run: both in the job's Runs tab and in the job's own `runs` (the Jobs page)."""
    tab = _runs_tab(demo_then_ui, job)
    _assert_demo_runs(tab, job)

    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": REPOSITORY,
        "pipelineName": job,
    }
    found = demo_then_ui.graphql(_JOB_RUNS, selector=selector)["pipelineOrError"]
    assert found["__typename"] == "Pipeline", found
    _assert_demo_runs(found["runs"], job)
    assert {r["runId"] for r in found["runs"]} == {r["runId"] for r in tab}


def test_the_location_label_is_what_selects_them(demo_then_ui):
    """The Runs tab's location filter is in force: another location's label finds none."""
    assert _runs_tab(demo_then_ui, "daily_client_job", label=f"{REPOSITORY}@elsewhere") == []


def test_the_overview_timeline_places_every_demo_run_in_its_job_row(demo_then_ui):
    """Every run of the demo has the location's origin, so the timeline has a row for it."""
    window = {
        "statuses": DONE,
        "updatedAfter": demo_then_ui.started,
        "updatedBefore": time.time(),
    }
    data = demo_then_ui.graphql(_TIMELINE, filter=window)["runsOrError"]
    assert data["__typename"] == "Runs", data
    runs = data["results"]
    for job in EXPECTED:
        _assert_demo_runs([r for r in runs if r["jobName"] == job], job)
    assert {r["jobName"] for r in runs} == set(EXPECTED), runs


SCREENSHOTS = ("asset", "job", "run", "runs", "registry", "version")


def test_make_screenshots_captures_each_page_from_the_running_uis(demo_then_ui, tmp_path):
    """`make screenshots` as the README gives it, with `make ui` up (its ports in the
    environment): every page rendered until it shows its subject, then captured."""
    ui = demo_then_ui
    env = {
        **ui.env,
        "DAGSTER_PORT": ui.graphql.base_url.rsplit(":", 1)[1],
        "MLFLOW_PORT": ui.uis.mlflow_url.rsplit(":", 1)[1],
        "SCREENSHOTS_DIR": str(tmp_path / "screenshots"),
    }
    done = subprocess.run(
        ["make", "screenshots"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "using the UIs on" in done.stdout, done.stdout
    index = (tmp_path / "screenshots" / "README.md").read_text()
    for name in SCREENSHOTS:
        png = (tmp_path / "screenshots" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
        assert (width, height) == WINDOW, (name, width, height)
        assert len(png) > 20_000, (name, len(png))  # more than a blank page
        assert f"({name}.png)" in index


def test_the_summary_names_the_champion_mlflow_serves(demo_then_ui):
    """Issue 15 item 3, against the MLflow UI's REST API: the demo's summary JSON line says,
    per client, which version ``@champion`` points to after the last day ("none" when no
    version was promoted) and which version is ``@challenger``; the registry agrees."""
    lines = demo_then_ui.demo_output.splitlines()
    summary = json.loads([line for line in lines if line.startswith("{")][-1])
    api = f"{demo_then_ui.uis.mlflow_url}/api/2.0/mlflow"
    assert set(summary) == set(CLIENTS), summary
    for client, figures in summary.items():
        aliases = _aliases(api, registered_model_name(client))
        assert figures["champion_after"] == aliases.get("champion", "none"), (client, aliases)
        assert figures["champion_version"] in ("none", aliases.get("champion")), figures


def _aliases(api: str, model: str) -> dict[str, str]:
    response = requests.get(f"{api}/registered-models/get", params={"name": model}, timeout=30)
    assert response.status_code == 200, response.text
    model_json = response.json()["registered_model"]
    return {a["alias"]: a["version"] for a in model_json.get("aliases", [])}
