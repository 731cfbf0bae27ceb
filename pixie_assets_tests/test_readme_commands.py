"""The README's replay and conversion commands, run as written from the repository root.

Commands are read from the README (``readme.bash_commands``), not copied here, so a README
command that stops working fails this test. The public-dataset section names its source folder
once (``ML=…``, the official release in ``../shared/datasets``); tests never read that folder, so
this test sets ``ML`` to a small MovieLens release it writes itself and runs every other line
unchanged. The synthetic-world section likewise names its scale once (``SCALE=demo``) and runs
here on the tiny world.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixie_assets_tests.operations.pool_jobs import HOLDING
from pixie_assets_tests.readme import bash_commands
from pixie_assets_tests.replay import builders

ROOT = Path(__file__).resolve().parents[1]


def _run(commands: list[str], env: dict[str, str], timeout: int = 900) -> str:
    """Run the commands in one bash from the repository root; the output of the last one."""
    script = "set -euo pipefail\n" + "\n".join(commands)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXIE_", "DAGSTER_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PIXIE_HOME"] = str(tmp_path / "home")
    return {**env, **extra}


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def _json_lines(output: str) -> list[dict]:
    """Every line of the output that is a JSON object (each benchmark ends with one)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _leftover_dagster_homes() -> set[Path]:
    return set(ROOT.glob(".tmp_dagster_home_*"))


@pytest.mark.slow
def test_the_worked_example_runs_as_written(tmp_path):
    commands = bash_commands("A worked example (the tests' dataset)")
    assert any("benchmarks/replay.py" in c for c in commands)
    shutil.rmtree("/tmp/example_landing", ignore_errors=True)
    before = _leftover_dagster_homes()
    summary = _last_json(_run(commands, _env(tmp_path)))
    for ranker, metrics in builders.EXPECTED.items():
        for metric, value in metrics.items():
            assert summary["rankers"][ranker][metric] == pytest.approx(value, abs=1e-4)
    assert summary["test_users"] == 4 and summary["test_positives"] == 6
    assert _leftover_dagster_homes() == before  # dg.materialize left nothing in the checkout


def _write_movielens(folder: Path, seed: int = 0) -> Path:
    """A small MovieLens release (ratings.csv + movies.csv) of 2013–2018: 120 users who rate
    in bursts, mostly within their favourite two of six genres, 300 movies."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
    movie_genre = rng.integers(0, len(genres), 300)
    lines = ["movieId,title,genres"]
    lines += [f'{m + 1},"Movie {m + 1}, The (2000)",{genres[g]}' for m, g in enumerate(movie_genre)]
    (folder / "movies.csv").write_text("\n".join(lines) + "\n")
    start, span = 1_356_998_400, 6 * 365 * 86_400  # 2013-01-01, six years
    rows = ["userId,movieId,rating,timestamp"]
    for user in range(1, 121):
        liked = rng.choice(len(genres), 2, replace=False)
        for _ in range(rng.integers(3, 8)):  # sessions
            t0 = start + int(rng.integers(0, span))
            for j in range(rng.integers(3, 12)):
                pool = np.flatnonzero(np.isin(movie_genre, liked)) if rng.random() < 0.8 else None
                movie = int(rng.choice(pool) if pool is not None else rng.integers(0, 300)) + 1
                rating = float(rng.choice([2.0, 3.0, 3.5, 4.0, 4.5, 5.0]))
                rows.append(f"{user},{movie},{rating},{t0 + 60 * j}")
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow
def test_the_public_dataset_commands_run_as_written(tmp_path):
    commands = bash_commands("Public datasets")
    assert commands[0].startswith("ML=")
    assert any("pixie_assets.convert movielens" in c for c in commands)
    assert any("benchmarks/replay.py" in c for c in commands)
    source = _write_movielens(tmp_path / "ml-fake")
    for command in commands[1:]:
        for word in command.split():
            if word.startswith("/tmp/"):
                shutil.rmtree(word, ignore_errors=True)
    output = _run([f"ML={source}", *commands[1:]], _env(tmp_path))
    converted, summary, ablation = _json_lines(output)
    assert converted["dataset"] == "movielens" and converted["users"] == 120
    assert "plain_walk" in ablation["sources"] and "pixie" in ablation["sources"]
    assert set(summary["rankers"]) == {"popularity", "plain_walk", "visit_count", "lightweight"}
    assert len(summary["windows"]) == 8
    assert summary["test_users"] > 0
    for ranker, bounds in summary["intervals"].items():
        low, high = bounds["hit@100"]
        assert low <= summary["rankers"][ranker]["hit@100"] <= high, ranker


@pytest.mark.slow
def test_the_synthetic_world_commands_run_as_written(tmp_path):
    commands = bash_commands("Results")
    assert commands[0] == "SCALE=demo"
    assert any("--from-world $SCALE" in c for c in commands)
    for command in commands[1:]:
        for word in command.split():
            if word.startswith("/tmp/"):
                shutil.rmtree(word.replace("$SCALE", "tiny"), ignore_errors=True)
    output = _run(["SCALE=tiny", *commands[1:]], _env(tmp_path))
    summary = _last_json(output)
    assert "sources" in summary and "plain_walk" in summary["sources"]
    assert summary["test_positives"] > 0


@pytest.mark.slow
def test_running_one_asset_by_hand_works_as_written(tmp_path):
    """The by-hand commands, then the *Operations* commands in the same shell set-up: a dead
    run's slot seen and released, a partition re-served with its recorded model, then on
    purpose with another."""
    commands = bash_commands("Running one asset by hand")
    assert "export PIXIE_HOME=/tmp/pixie PIXIE_WORLD_SCALE=tiny" in commands
    home = Path("/tmp/pixie")
    shutil.rmtree(home, ignore_errors=True)
    before = _leftover_dagster_homes()
    env = _env(tmp_path)
    _run(commands, env)
    assert (home / "world").is_dir()
    assert (home / "graph" / "day=2026-11-01").is_dir()
    assert any((home / "candidates" / "day=2026-11-01" / "client=homefeed").glob("*.parquet"))
    assert any((home / "dagster_home").iterdir()), "the runs were not kept in DAGSTER_HOME"

    shell = [c for c in commands if c.startswith(("source ", "export "))]
    operations = bash_commands("Operations")
    dead_run = _kill_a_slot_holder(
        {**env, "PIXIE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    )
    output = _run(shell + operations, env)
    assert f"{dead_run}  STARTED" in output and "(dead)" in output
    assert f"Run {dead_run} held pool slots" in output and "released 1 run(s)" in output
    served = _serving_metadata(home / "dagster_home")
    assert served[-2]["model_choice"].startswith("first serve")  # by hand served no day yet
    assert served[-1]["model_choice"].startswith("override: model_version='champion'")
    assert _leftover_dagster_homes() == before
    shutil.rmtree(home, ignore_errors=True)


def _kill_a_slot_holder(env: dict[str, str]) -> str:
    """A run that takes the duckdb pool's slot and is then killed with SIGKILL; its run id."""
    holder = subprocess.Popen(
        [sys.executable, "-m", "pixie_assets_tests.operations.pool_jobs", "holder"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in holder.stdout:  # blocks until the holder's step owns the slot
        if HOLDING in line:
            break
    holder.kill()
    assert holder.wait() == -signal.SIGKILL
    with _instance(env["DAGSTER_HOME"]) as instance:
        (run_id,) = instance.event_log_storage.get_concurrency_run_ids()
    return run_id


def _instance(dagster_home: str):
    import dagster as dg

    return dg.DagsterInstance.from_config(dagster_home)


def _serving_metadata(dagster_home: Path) -> list[dict]:
    """The metadata of every serving_logs materialization, oldest first."""
    import dagster as dg

    with _instance(str(dagster_home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey("serving_logs"), limit=10).records
    ordered = sorted(records, key=lambda r: r.storage_id)
    return [{k: v.value for k, v in r.asset_materialization.metadata.items()} for r in ordered]
