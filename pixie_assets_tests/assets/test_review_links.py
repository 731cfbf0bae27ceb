"""The UIs link to each other, and checks say what they checked: the tiny world's loop for
homefeed over three days (day 3 without training), the promotion margin lowered so that day 2
promotes day 1's model and day 3 judges day 2's against a champion.

Links: Dagster metadata to the MLflow runs and model versions; each version's tag and
description to the Dagster run that trained it; the review to the evaluation's MLflow run. The
UIs' addresses come from PIXIE_DAGSTER_URL and PIXIE_MLFLOW_URL, set here to addresses with a
trailing slash and a path, to show both are honoured."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import dagster as dg
import pytest
from mlflow import MlflowClient

from pixie_assets.core import clients
from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.training.tracking import (
    EVALUATION_EXPERIMENT,
    EXPERIMENT,
    STUDY_EXPERIMENT,
    configure_mlflow,
)
from pixie_assets_tests.loop import run

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
CLIENT = "homefeed"
MODEL = "pixie-lightweight-homefeed"
DAGSTER = "http://dagster.test:3999"
MLFLOW = "http://mlflow.test:5999/ml"

# Three days of the loop on the tiny world (about a minute).
pytestmark = pytest.mark.slow


@dataclass
class Loop:
    settings: PixieSettings
    world: dg.ExecuteInProcessResult
    graphs: dict[str, dg.ExecuteInProcessResult]
    days: dict[str, dg.ExecuteInProcessResult]  # the day × client run of homefeed


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    lenient = dataclasses.replace(clients.CLIENTS[CLIENT], promotion_margin=-0.5)
    patch.setitem(clients.CLIENTS, CLIENT, lenient)
    patch.setenv("PIXIE_DAGSTER_URL", DAGSTER + "/")
    patch.setenv("PIXIE_MLFLOW_URL", MLFLOW + "/")
    home = tmp_path_factory.mktemp("pixie_links")
    settings = PixieSettings(home=str(home), world_scale="tiny", world_seed=7, start_day=DAYS[0])
    world = run(settings, ["world"])
    graphs, days = {}, {}
    for day in DAYS:
        stages = [s for s in DAY_CLIENT_ASSETS if day != DAYS[-1] or s != "lightweight_model"]
        graphs[day] = run(settings, ["pin_board_graph"], day)
        days[day] = run(settings, stages, day_client_key(day, CLIENT))
    yield Loop(settings, world, graphs, days)
    patch.undo()


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dg.MetadataValue]:
    return dict(result.asset_materializations_for_node(asset)[0].metadata)


def _mlflow(loop: Loop) -> MlflowClient:
    return configure_mlflow(loop.settings.resolved())


def _run_page(client: MlflowClient, experiment: str, run_id: str) -> str:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return f"{MLFLOW}/#/experiments/{experiment_id}/runs/{run_id}"


def _url(metadata: dict[str, dg.MetadataValue], key: str) -> str:
    """A metadata entry that must be a clickable link."""
    assert isinstance(metadata[key], dg.UrlMetadataValue), (key, metadata[key])
    return metadata[key].value


def test_model_metadata_links_to_its_mlflow_run_and_version(loop):
    client = _mlflow(loop)
    for day in DAYS[:2]:
        meta = _metadata(loop.days[day], "lightweight_model")
        run_id, version = meta["mlflow_run_id"].value, meta["model_version"].value
        assert _url(meta, "mlflow_run_url") == _run_page(client, EXPERIMENT, run_id)
        assert _url(meta, "model_version_url") == f"{MLFLOW}/#/models/{MODEL}/versions/{version}"


def test_evaluation_metadata_links_to_its_run_and_the_versions_it_judged(loop):
    client = _mlflow(loop)
    first = _metadata(loop.days[DAYS[0]], "model_evaluation")
    assert "challenger_version_url" not in first and "champion_before_url" not in first
    meta = _metadata(loop.days[DAYS[2]], "model_evaluation")
    run_id = meta["mlflow_run_id"].value
    assert _url(meta, "mlflow_run_url") == _run_page(client, EVALUATION_EXPERIMENT, run_id)
    assert _url(meta, "challenger_version_url") == f"{MLFLOW}/#/models/{MODEL}/versions/2"
    assert _url(meta, "champion_before_url") == f"{MLFLOW}/#/models/{MODEL}/versions/1"
    run = client.get_run(run_id)
    assert run.data.tags["dagster_run_url"] == f"{DAGSTER}/runs/{loop.days[DAYS[2]].run_id}"


def test_each_version_links_to_the_dagster_run_that_trained_it(loop):
    client = _mlflow(loop)
    for version, day in (("1", DAYS[0]), ("2", DAYS[1])):
        page = f"{DAGSTER}/runs/{loop.days[day].run_id}"
        found = client.get_model_version(MODEL, version)
        assert found.tags["dagster_run_url"] == page
        # the review that replaced the pending description names the training run again
        assert f"Trained by Dagster run [{loop.days[day].run_id}]({page})." in found.description
        training_run = _metadata(loop.days[day], "lightweight_model")["mlflow_run_id"].value
        assert client.get_run(training_run).data.tags["dagster_run_url"] == page


def test_the_review_links_the_evaluation_run_and_the_dagster_run_that_judged(loop):
    client = _mlflow(loop)
    for version, day in (("1", DAYS[1]), ("2", DAYS[2])):
        found = client.get_model_version(MODEL, version)
        evaluation = loop.days[day]
        run_id = _metadata(evaluation, "model_evaluation")["mlflow_run_id"].value
        run_page = _run_page(client, EVALUATION_EXPERIMENT, run_id)
        assert f"MLflow evaluation run: [{run_id}]({run_page})" in found.description
        assert found.tags["evaluation_run_url"] == run_page
        judged = f"Evaluated by Dagster run [{evaluation.run_id}]({DAGSTER}/runs/"
        assert judged in found.description


def test_every_check_result_says_what_it_checked_and_where(loop):
    world = loop.world.get_asset_check_evaluations()
    assert [c.check_name for c in world] == ["contract_schema"]
    assert world[0].metadata["description"].value.startswith("world tiny seed 7: all ")
    for day in DAYS:
        (graph,) = loop.graphs[day].get_asset_check_evaluations()
        assert graph.metadata["partition"].value == day
        assert graph.metadata["description"].value.startswith(f"{day}: 0 pins without boards")
        checks = loop.days[day].get_asset_check_evaluations()
        names = {c.check_name for c in checks}
        assert {"label_rate", "feature_drift", "registry_consistency"} <= names
        assert "keys_unique_not_null" in names and "candidate_coverage" in names
        for check in checks:
            description = check.metadata["description"].value
            assert description.startswith(f"{CLIENT} {day}: "), (check.check_name, description)
            assert "\n" not in description and check.description == description
            assert check.metadata["partition"].value == str(day_client_key(day, CLIENT))


def test_check_descriptions_state_the_comparison(loop):
    checks = {c.check_name: c for c in loop.days[DAYS[1]].get_asset_check_evaluations()}

    def text(name: str) -> str:
        return checks[name].metadata["description"].value

    assert "max PSI" in text("feature_drift") and "≤ 0.25" in text("feature_drift")
    assert "of K on average" in text("candidate_coverage")
    assert "serving_log 0 null, 0 duplicate" in text("keys_unique_not_null")
    registry = "consistent (2 versions, @champion 1, @challenger 2)"
    assert text("registry_consistency") == f"{CLIENT} {DAYS[1]}: {MODEL} {registry}"
    first = {c.check_name: c for c in loop.days[DAYS[0]].get_asset_check_evaluations()}
    drift = first["feature_drift"].metadata["description"].value
    assert drift == f"{CLIENT} {DAYS[0]}: no PSI, no earlier day to compare with"


def test_primary_keys_compare_like_with_like(loop):
    metric = clients.CLIENTS[CLIENT].primary_metric
    expected = {
        DAYS[0]: {"visit_count"},
        DAYS[1]: {"visit_count", "challenger"},
        DAYS[2]: {"visit_count", "challenger", "champion"},
    }
    for day, rankers in expected.items():
        meta = _metadata(loop.days[day], "model_evaluation")
        primary = {k.removeprefix("primary/") for k in meta if k.startswith("primary/")}
        assert primary == rankers | ({"lift"} if "challenger" in rankers else set())
        for ranker in rankers:
            assert meta[f"primary/{ranker}"].value == meta[f"{ranker}/{metric}"].value
    meta = _metadata(loop.days[DAYS[2]], "model_evaluation")
    challenger, visit_count = meta["primary/challenger"].value, meta["primary/visit_count"].value
    lift = (challenger - visit_count) / abs(visit_count)
    assert meta["primary/lift"].value == pytest.approx(lift)


def test_strategy_study_links_to_its_mlflow_run(loop):
    result = run(loop.settings, ["strategy_study"], day_client_key(DAYS[1], CLIENT))
    meta = _metadata(result, "strategy_study")
    client = _mlflow(loop)
    run_id = meta["mlflow_run_id"].value
    assert _url(meta, "mlflow_run_url") == _run_page(client, STUDY_EXPERIMENT, run_id)
    assert client.get_run(run_id).data.tags["dagster_run_url"] == f"{DAGSTER}/runs/{result.run_id}"


def test_schedules_and_the_sensor_say_what_they_do():
    from pixie_assets.definitions import defs

    graph = defs.resolve_schedule_def("daily_graph_schedule").description
    loop = defs.resolve_schedule_def("daily_loop_schedule").description
    sensor = defs.resolve_sensor_def("landing_files_sensor").description
    assert "00:30 UTC" in graph and "pin_board_graph" in graph
    assert "01:30 UTC" in loop and "model_evaluation" in loop
    assert "serving_log_table" in sensor
