"""#14 item 3 through Dagster: ``lightweight_model`` on the same labeled examples, in process and
with ``PIXIE_DASK=local:2``, registers a version each way and says where it was trained; the
two fits agree on the procedure's counts and, within the tolerance of
``training/test_fit_dask.py``, on the validation AUC."""

from __future__ import annotations

import pytest

from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.training.examples import EXPORT_FOLDER
from pixie_assets_tests.loop import run
from pixie_assets_tests.training.example_windows import (
    CLIENT,
    FIRST_DAY,
    store_window,
    window_days,
)

pytestmark = pytest.mark.slow

REQUESTS = 1_000
MAX_AUC_DIFFERENCE = 0.01  # the held-back day's AUC, a noisier figure than a model's ranking


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("dask_training")
    days = window_days(3)
    store_window(home / "pixie.duckdb", days, REQUESTS)
    key = day_client_key(days[-1].isoformat(), CLIENT)
    metadata = {}
    for name, dask in (("in_process", ""), ("local:2", "local:2")):
        settings = PixieSettings(
            home=str(home), world_scale="tiny", start_day=FIRST_DAY.isoformat(), dask=dask
        )
        result = run(settings, ["lightweight_model"], key)
        materialization = result.asset_materializations_for_node("lightweight_model")[0]
        metadata[name] = {k: v.value for k, v in materialization.metadata.items()}
    return home, metadata


def test_each_run_registers_a_version_and_says_where_it_trained(runs):
    home, metadata = runs
    in_process, on_dask = metadata["in_process"], metadata["local:2"]
    assert (in_process["model_version"], on_dask["model_version"]) == ("1", "2")
    assert in_process["trained_on"] == "in process"
    assert on_dask["trained_on"] == "dask: 2 workers"
    assert "dask_dashboard" not in in_process
    assert on_dask["dask_dashboard"].startswith("http://127.0.0.1:")
    exported = home / EXPORT_FOLDER / f"client={CLIENT}"
    assert sorted(p.name for p in exported.iterdir()) == [
        f"day={d.isoformat()}" for d in window_days(3)
    ]


def test_both_runs_fit_the_same_rows_to_the_same_quality(runs):
    _, metadata = runs
    in_process, on_dask = metadata["in_process"], metadata["local:2"]
    for key in ("rows_train", "rows_valid", "validation_day", "refit", "valid_positives"):
        assert on_dask[key] == in_process[key], key
    assert on_dask["rows_train"] == 3 * REQUESTS * 10
    assert abs(on_dask["valid_auc"] - in_process["valid_auc"]) <= MAX_AUC_DIFFERENCE
