"""A replay's Dagster metadata links to its MLflow run, and the run links back to Dagster."""

from __future__ import annotations

import dagster as dg
import pytest
from mlflow import MlflowClient

from pixie_assets.defs.assets.replay import replay_evaluation, replay_model
from pixie_assets.defs.jobs import replay_job
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.training.tracking import REPLAY_EXPERIMENT
from pixie_assets_tests.replay import builders

DAGSTER = "http://dagster.test:3999"
MLFLOW = "http://mlflow.test:5999"


@pytest.mark.slow
def test_replay_evaluation_links_its_mlflow_run_both_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXIE_DAGSTER_URL", DAGSTER)
    monkeypatch.setenv("PIXIE_MLFLOW_URL", MLFLOW)
    landing = builders.write_example(tmp_path / "landing")
    settings = PixieSettings(home=str(tmp_path / "home"), source="replay", landing=str(landing))
    defs = dg.Definitions(
        assets=[replay_model, replay_evaluation], jobs=[replay_job], resources={"pixie": settings}
    )
    test_start, test_end = builders.window()
    result = defs.resolve_job_def("replay_job").execute_in_process(
        run_config={"test_start": test_start, "test_end": test_end}
    )
    meta = result.asset_materializations_for_node("replay_evaluation")[0].metadata
    run_id = meta["mlflow_run_id"].value
    client = MlflowClient(settings.resolved().mlflow_tracking_uri)
    experiment_id = client.get_experiment_by_name(REPLAY_EXPERIMENT).experiment_id
    assert isinstance(meta["mlflow_run_url"], dg.UrlMetadataValue)
    assert meta["mlflow_run_url"].value == f"{MLFLOW}/#/experiments/{experiment_id}/runs/{run_id}"
    tags = client.get_run(run_id).data.tags
    assert tags["dagster_run_url"] == f"{DAGSTER}/runs/{result.run_id}"
