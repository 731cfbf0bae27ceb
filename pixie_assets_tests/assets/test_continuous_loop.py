"""The loop closes through the registry: the version promoted on day D serves day D+1, and a
failed evaluation moves no alias. Tiny world, homefeed, three days. The promotion margin is set
very low here so that the win is certain: these tests are about the mechanism, not the model."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pyarrow.parquet as pq
import pytest

from pixie_assets.core import clients
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing import data_files, partition_dir
from pixie_assets.training.registry import aliased_version
from pixie_assets.training.tracking import CHAMPION, configure_mlflow
from pixie_assets_tests.loop import ALL_ASSETS, DAY_CLIENT_STAGES, run, run_day

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]


# Runs the loop for 3 days on the tiny world (about a minute).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    lenient = dataclasses.replace(clients.CLIENTS["homefeed"], promotion_margin=-0.5)
    patch.setitem(clients.CLIENTS, "homefeed", lenient)
    home = tmp_path_factory.mktemp("pixie_continuous")
    settings = PixieSettings(home=str(home), world_scale="tiny", world_seed=7, start_day=DAYS[0])
    run(settings, ["world"])
    results = {day: run_day(settings, day, ["homefeed"])["homefeed"] for day in DAYS[:2]}
    yield settings, results
    patch.undo()


def _served_versions(settings: PixieSettings, day: str) -> set[str]:
    """The model versions in the day's homefeed serving_log, over every part file (shard)."""
    folder = partition_dir(settings.resolved().landing_dir, "serving_log", day, "homefeed")
    return {
        version
        for path in data_files(folder)
        for version in pq.read_table(path, columns=["model_version"])["model_version"].to_pylist()
    }


def _evaluation(result) -> dict:
    materialization = result.asset_materializations_for_node("model_evaluation")[0]
    return {k: v.value for k, v in materialization.metadata.items()}


def test_first_days_are_served_by_visit_count(loop):
    settings, results = loop
    assert _served_versions(settings, DAYS[0]) == {"visit_count"}
    assert _served_versions(settings, DAYS[1]) == {"visit_count"}
    first = _evaluation(results[DAYS[0]])
    assert first["challenger_version"] == "none" and first["decision"] == "kept"


def test_day_two_promotes_day_one_model_and_records_the_review(loop):
    settings, results = loop
    evaluation = _evaluation(results[DAYS[1]])
    assert evaluation["challenger_version"] == "1" and evaluation["decision"] == "promoted"
    assert aliased_version(settings.resolved(), "homefeed", CHAMPION) == "1"
    version = configure_mlflow(settings.resolved()).get_model_version(
        "pixie-lightweight-homefeed", "1"
    )
    assert version.tags["promotion"] == "promoted" and version.tags["evaluated_on"] == DAYS[1]
    assert "PROMOTED" in version.description and "visit_count" in version.description


def test_a_failed_evaluation_moves_no_alias(loop, monkeypatch):
    settings, _ = loop

    def broken(*args, **kwargs):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr("pixie_assets.training.registry.set_alias", broken)
    before = aliased_version(settings.resolved(), "homefeed", CHAMPION)
    result = dg.materialize(
        ALL_ASSETS,
        selection=["model_evaluation"],
        partition_key=day_client_key(DAYS[1], "homefeed"),
        resources={"pixie": settings},
        raise_on_error=False,
    )
    assert not result.success
    assert aliased_version(settings.resolved(), "homefeed", CHAMPION) == before


def test_day_three_serving_logs_the_promoted_version(loop):
    settings, _ = loop
    run_day(settings, DAYS[2], ["homefeed"], stages=DAY_CLIENT_STAGES[:2])
    assert _served_versions(settings, DAYS[2]) == {"pixie-lightweight-homefeed/1"}


def test_strategy_study_trains_every_arm_and_logs_them_side_by_side(loop):
    """Day 2 judged by models trained on day 1, one per strategy, as nested MLflow runs."""
    settings, _ = loop
    result = run(settings, ["strategy_study"], day_client_key(DAYS[1], "homefeed"))
    materialization = result.asset_materializations_for_node("strategy_study")[0]
    table = materialization.metadata["comparison"].value
    arms = ("engagement", "funnel_pure", "funnel_blended", "distillation", "funnel_blended_local")
    for ranker in ("visit_count", *arms):
        assert f"| {ranker} |" in table
    client = configure_mlflow(settings.resolved())
    parent = materialization.metadata["mlflow_run_id"].value
    experiment = client.get_experiment_by_name("pixie-strategy-study").experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")
    assert sorted(r.info.run_name for r in children) == sorted(arms)
    assert all("sim.primary_per_request" in r.data.metrics for r in children)


def test_evaluation_reports_offpolicy_estimates_for_every_ranker(loop):
    """Day 2: visit count served (with exploration), the day-1 model is the challenger."""
    settings, results = loop
    client = configure_mlflow(settings.resolved())
    run_id = _evaluation(results[DAYS[1]])["mlflow_run_id"]
    metrics = client.get_run(run_id).data.metrics
    for ranker in ("visit_count", "challenger"):
        for family in ("ips", "snips", "dr"):
            assert metrics[f"{ranker}.{family}.save_per_request"] > 0, (ranker, family)
        assert metrics[f"{ranker}.ope.support"] == 1.0
    assert metrics["visit_count.ope.logged_policy_match"] == 1.0
    # visit count served the day: its own top M was sent but for the 5 exploration slots
    assert metrics["visit_count.ope.overlap"] == pytest.approx(45 / 50, abs=0.02)
    assert metrics["challenger.ope.overlap"] < metrics["visit_count.ope.overlap"]


def test_an_undefined_primary_metric_falls_back(loop, monkeypatch):
    """Evaluate day 2 again as if the client had no exploration slots: the logs no longer fit
    that funnel, the off-policy primary metric is undefined, and the fallback decides."""
    settings, _ = loop
    config = clients.CLIENTS["homefeed"]
    patched = dataclasses.replace(
        config,
        explore_slots=0,
        primary_metric="dr/save_per_request",
        fallback_metric="auc_sent/save",
    )
    monkeypatch.setitem(clients.CLIENTS, "homefeed", patched)
    result = run(settings, ["model_evaluation"], day_client_key(DAYS[1], "homefeed"))
    evaluation = _evaluation(result)
    assert evaluation["primary_metric"] == "dr/save_per_request"
    assert evaluation["decision_metric"] == "auc_sent/save"
    assert "undefined, decided on fallback auc_sent/save" in evaluation["reason"]


def _landing_bytes(settings: PixieSettings, day: str) -> dict[str, bytes]:
    """Every landing data file of the day's homefeed partition, by path."""
    landing = settings.resolved().landing_dir
    return {
        str(path.relative_to(landing)): path.read_bytes()
        for table in ("serving_log", "impressions", "engagements")
        for path in sorted((landing / table / f"day={day}" / "client=homefeed").glob("*.parquet"))
    }


def _serve(settings: PixieSettings, day: str, model_version: str = "") -> dict:
    result = dg.materialize(
        ALL_ASSETS,
        selection=["walk_candidates", "serving_logs"],
        partition_key=day_client_key(day, "homefeed"),
        resources={"pixie": settings},
        run_config={"ops": {"serving_logs": {"config": {"model_version": model_version}}}},
    )
    materialization = result.asset_materializations_for_node("serving_logs")[0]
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.fixture
def champion_is_version_2(loop):
    """@champion moved past day 3's model, as a later day's evaluation would; restored after."""
    settings, _ = loop
    resolved = settings.resolved()
    if not _served_versions(settings, DAYS[2]):
        run_day(settings, DAYS[2], ["homefeed"], stages=DAY_CLIENT_STAGES[:2])
    before = aliased_version(resolved, "homefeed", CHAMPION)
    client = configure_mlflow(resolved)
    client.set_registered_model_alias("pixie-lightweight-homefeed", CHAMPION, "2")
    yield settings
    client.set_registered_model_alias("pixie-lightweight-homefeed", CHAMPION, before)


def test_a_rerun_reserves_each_day_with_its_recorded_model_byte_for_byte(champion_is_version_2):
    """#13 item 7: re-running old days while @champion is v2 rewrites nothing: day 1 stays
    served by visit count, day 3 by v1, and every landing file keeps its bytes."""
    settings = champion_is_version_2
    for day, served in ((DAYS[0], "visit_count"), (DAYS[2], "pixie-lightweight-homefeed/1")):
        before = _landing_bytes(settings, day)
        metadata = _serve(settings, day)
        assert metadata["model_version"] == served
        assert metadata["model_choice"].startswith("re-run")
        assert _landing_bytes(settings, day) == before


def test_an_explicit_override_reserves_with_another_model_and_records_it(champion_is_version_2):
    settings = champion_is_version_2
    metadata = _serve(settings, DAYS[2], model_version="champion")
    assert metadata["model_version"] == "pixie-lightweight-homefeed/2"
    assert metadata["previously_served_by"] == "pixie-lightweight-homefeed/1"
    assert metadata["model_choice"].startswith("override")
    assert _served_versions(settings, DAYS[2]) == {"pixie-lightweight-homefeed/2"}
    # and back, by number: the override names any version
    assert _serve(settings, DAYS[2], model_version="1")["model_version"].endswith("/1")
