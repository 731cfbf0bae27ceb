"""``python -m pixie_assets.demo`` tells its story and nothing else (issue 15 item 5).

Before, a one-day demo printed Dagster's beta warnings, MLflow's table creation, registry
("Successfully registered model", "Created version"), uv and pip lines, and coloured warnings
between its own lines. Now every line of its output is one of the project's, and the library
lines are in ``$PIXIE_HOME/logs/demo.log`` (and, for those written in a step, in the run's
captured logs, which the Dagster UI shows).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

DAY = "2026-11-01"
JOBS = 1 + 1 * (1 + len(CLIENTS))
TIMEOUT_SECONDS = 10 * 60
CLIENT_NAMES = "|".join(CLIENTS)

# Every kind of line the demo writes; a line matching none of them is someone else's.
PROJECT_LINES = [
    r"",
    r"Pixie demo: tiny world \(seed 7\), 1 day × 3 clients = 5 jobs, data in \S+",
    r"\(The first job of each kind is the slowest: .*\)",
    rf"\[[1-{JOBS}]/{JOBS}\] (world_job|graph_job {DAY}|daily_client_job \w+\|{DAY}): ok in "
    r"\d+\.\ds · \S+( \S+)? elapsed( · .* left.*)?",
    r"\|.*\|",  # the world summary's tables
    r"\*\*[^*]+:\*\* .*",  # and its figures
    rf"({CLIENT_NAMES}), {DAY}",
    r" +auc_\S+ +vs visit( +sim\. actions/req +vs visit)?",
    r"  (visit count|champion |challenger ).* +\d+\.\d{4}.*",
    r"  decision: (kept|promoted|rejected) — .*",
    r"  @champion is now (none|v\d+)",
    r"\{.*\}",
    r"demo finished in \S+( \S+)?",
    r"Next: PIXIE_HOME=\S+ make ui",
    r"  Dagster UI  http://127\.0\.0\.1:\d+  .*",
    r"  MLflow UI   http://127\.0\.0\.1:\d+  .*",
    r"Library warnings and logs: \S+demo\.log",
]
FOREIGN = ["Warning", "WARNING", "INFO", "mlflow", "Successfully registered", "Created version"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXIE_", "DAGSTER_"))}
    return {
        **env,
        "PIXIE_HOME": str(home),
        "PIXIE_WORLD_SCALE": "tiny",
        "PIXIE_DEMO_DAYS": "1",
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, Path]:
    """One demo day on the tiny world in a fresh ``PIXIE_HOME`` (the demo creates
    ``DAGSTER_HOME`` in it): its whole output, stdout and stderr together, and its home."""
    home = tmp_path_factory.mktemp("demo_console") / "home"
    done = subprocess.run(
        [sys.executable, "-m", "pixie_assets.demo"],
        cwd=PROJECT_ROOT,
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    return done.stdout, home


def test_every_line_on_the_console_is_the_projects(demo):
    output, home = demo
    assert "\x1b" not in output  # no colour codes
    strangers = [
        line
        for line in output.splitlines()
        if not any(re.fullmatch(p, line) for p in PROJECT_LINES)
        or any(word in line for word in FOREIGN)
    ]
    assert strangers == [], "\n".join(strangers)


def test_the_story_counts_the_jobs_then_sums_up_and_points_on(demo):
    output, home = demo
    lines = output.splitlines()
    progress = [line.split("]")[0] for line in lines if line.startswith("[")]
    assert progress == [f"[{k}/{JOBS}" for k in range(1, JOBS + 1)]
    assert "| table | rows |" in lines  # the world's summary
    summary = json.loads(next(line for line in lines if line.startswith("{")))
    assert sorted(summary) == sorted(CLIENTS)
    assert lines[-5].startswith("demo finished in ")
    assert lines[-4] == f"Next: PIXIE_HOME={home} make ui"
    assert lines[-1] == f"Library warnings and logs: {home / 'logs' / 'demo.log'}"


def test_the_library_lines_are_in_the_log_file_and_the_runs_logs(demo):
    _, home = demo
    log = (home / "logs" / "demo.log").read_text()
    for line in (
        "BetaWarning",
        "INFO mlflow.store.db.utils: Creating initial MLflow database tables",
        "Successfully registered model 'pixie-lightweight-homefeed'",
        "Created version '1' of model 'pixie-lightweight-notifications'",
    ):
        assert line in log
    captured = "".join(
        path.read_text(errors="replace")
        for path in (home / "dagster_home" / "storage").glob("*/compute_logs/*.err")
    )
    assert "Successfully registered model 'pixie-lightweight-homefeed'" in captured
