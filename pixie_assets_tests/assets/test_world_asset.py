"""The `world` asset in process and through the real `dagster` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pixie_assets.core.contract import WORLD_TABLES
from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.defs.assets.world import world

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def test_world_materializes_with_row_counts_and_summary(tiny_settings, pixie_home):
    result = dg.materialize([world], resources={"pixie": tiny_settings})
    assert result.success
    metadata = result.asset_materializations_for_node("world")[0].metadata
    for name in WORLD_TABLES:
        assert (pixie_home / "world" / f"{name}.parquet").exists()
        assert metadata[f"rows/{name}"].value > 0
    assert metadata["rows/users"].value == 2_000
    summary = metadata["summary"].value
    assert "Mixed-topic boards" in summary and "en-US" in summary
    assert (pixie_home / "truth" / "user_interest.npy").exists()
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "contract_schema" and check.passed


def _dagster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, *args], cwd=PROJECT_ROOT, env=os.environ.copy(), capture_output=True, text=True
    )


@pytest.mark.slow
def test_cli_materialize_twice_gives_identical_files(pixie_home):
    snapshots = []
    for _ in range(2):
        run = _dagster(
            "asset", "materialize", "-m", "pixie_assets.definitions", "--select", "world"
        )
        assert run.returncode == 0, run.stderr[-3000:]
        snapshots.append(
            {p.name: p.read_bytes() for p in sorted((pixie_home / "world").glob("*.parquet"))}
        )
    assert set(snapshots[0]) == {f"{name}.parquet" for name in WORLD_TABLES}
    assert snapshots[0] == snapshots[1]


@pytest.mark.slow
def test_definitions_validate(pixie_home):
    run = _dagster("definitions", "validate", "-w", "workspace.yaml")
    assert run.returncode == 0, run.stderr[-3000:]


def test_world_refuses_to_run_beside_your_own_data(tmp_path):
    from pixie_assets.defs.resources import PixieSettings

    settings = PixieSettings(home=str(tmp_path), world_scale="tiny", source="landing")
    result = dg.materialize([world], resources={"pixie": settings}, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    assert "PIXIE_SOURCE=landing" in error.message + str(error.cause)
    assert not (tmp_path / "world").exists()
