"""Fixtures of the interface tests: one private deployment (PIXIE_HOME with the tiny world), one
`make ui` (dagster dev and the MLflow UI) shared by every test of this folder, and the loop run
once through Dagster's GraphQL API.

When a test fails, the tails of the logs of the servers still running are added to its report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixie_assets_tests.interfaces import harness
from pixie_assets_tests.interfaces.dagster_ui import (
    CLIENTS,
    DAYS,
    START_DAY,
    USER_SETTING,
    DagsterUI,
    LoopRecord,
    UIs,
    run_loop,
    start_ui,
)

LOOP_TIMEOUT_SECONDS = 8 * 60
TIMINGS = harness.TIMINGS
HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test of this folder is an interface test (real servers): `-m "not interfaces"`
    (as in `make test-fast`) leaves them out. Before pytest's own -m selection (tryfirst)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.interfaces)


@dataclass(frozen=True)
class Deployment:
    home: Path
    env: dict[str, str]
    log_dir: Path


@pytest.fixture(scope="package")
def deployment(tmp_path_factory) -> Deployment:
    """A private PIXIE_HOME whose instance config the user has edited (``USER_SETTING``)."""
    base = tmp_path_factory.mktemp("interfaces")
    home = base / "pixie_home"
    home.mkdir()
    env = harness.pixie_env(home, scale="tiny", seed=7, start_day=START_DAY)
    config = Path(env["DAGSTER_HOME"]) / "dagster.yaml"
    config.write_text(config.read_text() + USER_SETTING)
    return Deployment(home=home, env=env, log_dir=base / "logs")


@pytest.fixture(scope="package")
def make_ui(deployment) -> Iterator[UIs]:
    """`make ui` (dagster dev and the MLflow UI) on free ports, started once for the folder."""
    started = time.monotonic()
    uis = start_ui(deployment.env, deployment.log_dir)
    TIMINGS["make ui ready"] = time.monotonic() - started
    try:
        yield uis
    finally:
        uis.server.stop()


@pytest.fixture(scope="package")
def dagster_dev(make_ui) -> DagsterUI:
    return DagsterUI(make_ui.graphql)


@pytest.fixture(scope="package")
def loop(dagster_dev) -> LoopRecord:
    """World, then 3 days × 3 clients launched through GraphQL in day order (see dagster_ui)."""
    record = run_loop(dagster_dev, DAYS, CLIENTS, LOOP_TIMEOUT_SECONDS)
    TIMINGS["loop: world + 3 days x 3 clients"] = record.seconds
    for day, seconds in record.day_seconds.items():
        TIMINGS[f"  day {day}: graph, then 3 clients together"] = seconds
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in list(harness.RUNNING):
            report.sections.append(
                (
                    f"{server.name} log {server.log_path} (last {harness.LOG_TAIL_LINES} lines)",
                    server.tail(),
                ),
            )


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("interface tests: wall times")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")
