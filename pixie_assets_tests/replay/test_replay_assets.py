"""Replay mode end to end through the Dagster assets, on the hand-built example."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from pixie_assets.defs.assets.replay import replay_evaluation, replay_model, replay_run_config
from pixie_assets.defs.jobs import replay_job
from pixie_assets.defs.resources import PixieSettings
from pixie_assets_tests.replay import builders

ASSETS = [replay_model, replay_evaluation]


def _only(asset: str, **config) -> dict:
    """Run config of one replay asset for the example's window."""
    return {"ops": {asset: replay_run_config(*builders.window(), **config)["ops"][asset]}}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    materialization = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """``replay_job`` run once on the example (PIXIE_SOURCE=replay), the window given once."""
    root = tmp_path_factory.mktemp("replay")
    landing = builders.write_example(root / "landing")
    settings = PixieSettings(home=str(root / "home"), source="replay", landing=str(landing))
    defs = dg.Definitions(assets=ASSETS, jobs=[replay_job], resources={"pixie": settings})
    test_start, test_end = builders.window()
    result = defs.resolve_job_def("replay_job").execute_in_process(
        run_config={"test_start": test_start, "test_end": test_end}
    )
    assert result.success
    return settings, landing, result


@pytest.mark.slow
def test_results_match_the_hand_computed_ranks(replayed):
    _, _, result = replayed
    meta = _metadata(result, "replay_evaluation")
    for ranker, metrics in builders.EXPECTED.items():
        for metric, value in metrics.items():
            assert meta[f"{ranker}/{metric}"] == pytest.approx(value), (ranker, metric)
    # every lightweight list holds at most 3 candidates: the same hits as visit count
    visit_count = builders.EXPECTED["visit_count"]
    for metric in ("hit@10", "hit@100", "hit@1000", "recall@20"):
        assert meta[f"lightweight/{metric}"] == pytest.approx(visit_count[metric])
    assert 0 < meta["lightweight/ndcg@20"] <= 1
    counts = json.loads(Path(meta["path"]).read_text())["counts"]["2026-03-10..2026-03-11"]
    for name, value in builders.EXPECTED_COUNTS.items():
        assert counts[name] == value, name
    table = meta["results_markdown"]
    assert "| popularity |" in table and "| lightweight |" in table and "| plain_walk |" in table
    rows = {r.data["ranker"]: r.data for r in meta["results"].records}
    assert set(rows) == {"popularity", "plain_walk", "visit_count", "lightweight"}
    for row in rows.values():  # every figure with its 95% interval around it
        assert row["hit@100 95% low"] <= row["hit@100"] <= row["hit@100 95% high"]


@pytest.mark.slow
def test_the_model_trains_on_the_windows_before(replayed):
    _, _, result = replayed
    meta = _metadata(result, "replay_model")
    assert meta["test_windows"] == "2026-03-10..2026-03-11"
    (row,) = [r.data for r in meta["models"].records]
    assert row["test_window"] == "2026-03-10..2026-03-11"
    # of the 3 windows before, only 03-08..09 has saves among its candidates (03-04..07 hold
    # none); 15 candidates: 101 {x,y,z}, 102 {y,z}, 105 {s,t}, 106 {x,y,z}, 107 {x,y,z},
    # 108 {s,t}, every one kept (no sampling at this size)
    assert row["train_windows"] == "2026-03-08..2026-03-09"
    assert row["examples"] == 15 and row["positives"] == 2


@pytest.mark.slow
def test_results_are_written_per_backtest_and_tracked_in_mlflow(replayed):
    settings, _, result = replayed
    meta = _metadata(result, "replay_evaluation")
    path = Path(meta["path"])
    assert path.parent.name == "2026-03-10_2026-03-11"
    written = json.loads(path.read_text())
    assert set(written["rankers"]) == {"popularity", "plain_walk", "visit_count", "lightweight"}
    assert written["test_users"] == 4 and written["test_positives"] == 6
    assert set(written["paired"]) == {"lightweight-visit_count", "visit_count-plain_walk"}
    assert [w["test_window"] for w in written["windows"]] == ["2026-03-10..2026-03-11"]
    assert (path.parent / "models" / "2026-03-10_2026-03-11" / "model.json").exists()

    from mlflow import MlflowClient

    run = MlflowClient(settings.resolved().mlflow_tracking_uri).get_run(meta["mlflow_run_id"])
    assert run.data.metrics["visit_count/hit_at_100"] == pytest.approx(4 / 6)
    assert run.data.tags["dagster_run_id"] == result.run_id
    assert run.data.params["windows"] == "1"


@pytest.mark.slow
def test_evaluation_refuses_a_model_of_another_config(replayed):
    settings, landing, _ = replayed
    result = dg.materialize(
        ASSETS,
        selection=["replay_evaluation"],
        run_config=_only("replay_evaluation", candidates_k=50),
        resources={"pixie": settings},
        raise_on_error=False,
    )
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    assert "materialize replay_model with this config first" in str(error.message) + str(
        error.cause
    )


def test_a_broken_landing_folder_fails_the_run_naming_file_and_column(tmp_path, monkeypatch):
    landing = builders.write_example(tmp_path / "landing")
    path = landing / "boards" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop(["owner_id"]), path)
    result = dg.materialize(
        ASSETS,
        selection=["replay_model"],
        run_config=_only("replay_model"),
        resources={
            "pixie": PixieSettings(
                home=str(tmp_path / "home"), source="replay", landing=str(landing)
            )
        },
        raise_on_error=False,
    )
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error
    text = str(error.message) + str(error.cause)
    assert str(path) in text and "'owner_id'" in text


@pytest.mark.slow
def test_replay_walks_on_two_dask_workers_give_the_same_results(replayed, tmp_path, monkeypatch):
    """#14 item 4: with ``PIXIE_DASK=local:2`` the windows' graphs are saved for the workers and
    request batches (two requests each here, so several per window) walk there; every model
    and every figure equals the in-process replay's."""
    from dataclasses import replace

    from pixie_assets.defs.assets.replay import ReplayConfig

    original = ReplayConfig.params
    monkeypatch.setattr(
        ReplayConfig, "params", lambda self: replace(original(self), batch_requests=2)
    )
    _, landing, in_process = replayed
    settings = PixieSettings(
        home=str(tmp_path / "home"), source="replay", landing=str(landing), dask="local:2"
    )
    defs = dg.Definitions(assets=ASSETS, jobs=[replay_job], resources={"pixie": settings})
    test_start, test_end = builders.window()
    on_dask = defs.resolve_job_def("replay_job").execute_in_process(
        run_config={"test_start": test_start, "test_end": test_end}
    )
    assert on_dask.success
    for asset in ("replay_model", "replay_evaluation"):
        ours, theirs = _metadata(in_process, asset), _metadata(on_dask, asset)
        numbers = {k for k, v in ours.items() if isinstance(v, int | float)}
        assert numbers and {k: theirs[k] for k in numbers} == {k: ours[k] for k in numbers}
    models = [[r.data for r in _metadata(r, "replay_model")["models"].records]
              for r in (in_process, on_dask)]  # fmt: skip
    assert models[0] == models[1]
    scratch = tmp_path / "home" / "scratch"  # where the graphs were saved for the workers
    assert scratch.is_dir() and not any(scratch.iterdir())  # and removed after each step
