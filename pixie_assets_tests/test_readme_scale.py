"""The README's measurements past one machine, run as written from the repository root (a
module of its own, so pytest-xdist can run it beside the other README commands).

The one-day section names its world once (``SCALE=large``); here it runs on the tiny world,
every other line unchanged. The figures are not asserted (machines differ); what the scripts
promise is: a report per run with every asset of the day, the same work in process and on
Dask, byte-identical candidates, and null large-world fields under ``--quick``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixie_assets_tests.readme import bash_commands
from pixie_assets_tests.test_readme_commands import _env, _json_lines, _run

pytestmark = pytest.mark.slow

DAY_ASSETS = {
    "world", "pin_board_graph", "walk_candidates", "serving_logs", "serving_log_table",
    "labeled_examples", "lightweight_model", "model_evaluation",
}  # fmt: skip


def test_one_day_of_a_world_is_measured_as_written(tmp_path):
    commands = bash_commands("One day of each world, measured")
    assert commands[0] == "SCALE=large"
    for name in ("day_tiny.json", "day_tiny_dask.json", "scale.png"):
        Path("/tmp", name).unlink(missing_ok=True)
    output = _run(["SCALE=tiny", *commands[1:]], _env(tmp_path), timeout=600)
    in_process, on_dask = _json_lines(output)
    assert (in_process["dask"], on_dask["dask"]) == ("", "local:2")
    for report in (in_process, on_dask):
        assert set(report["assets"]) == DAY_ASSETS
        assert all(a["wall_s"] > 0 and a["peak_rss_gb"] > 0 for a in report["assets"].values())
        # 9 day × client steps and the world and graph
        assert len(report["steps"]) == 2 + 3 * (len(DAY_ASSETS) - 2)
    for asset in ("walk_candidates", "serving_logs", "serving_log_table", "labeled_examples"):
        assert in_process["assets"][asset]["work"] == on_dask["assets"][asset]["work"], asset
    assert "| walk_candidates | tiny, in process |" in output
    assert Path("/tmp/scale.png").stat().st_size > 10_000


def test_the_quick_scale_benchmark_runs_as_written(tmp_path):
    (command,) = bash_commands("Walks and training on more workers")
    (report,) = _json_lines(_run([command], _env(tmp_path), timeout=600))
    assert report["identical_candidates"] is True
    assert set(report["walk_steps_per_s"]) == {"1", "2"}
    assert report["walk_efficiency_2"] > 0
    assert set(report["train_rows_per_s"]) == {"inprocess", "dask_2"}
    assert report["large_day_s"] is None and report["large_peak_rss_gb"] is None
