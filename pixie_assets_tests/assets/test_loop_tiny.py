"""One day × client of the loop on the tiny world, world to trained challenger, in process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from pixie_assets.core import contract
from pixie_assets.landing import data_files, partition_dir
from pixie_assets.serving.candidates import read_candidates
from pixie_assets_tests.loop import run, run_day

DAY = "2026-11-01"


# Runs a whole day of the loop on the tiny world.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_loop(tmp_path_factory):
    """The tiny world's first day for homefeed, through lightweight_model."""
    from pixie_assets.defs.resources import PixieSettings

    home = tmp_path_factory.mktemp("pixie_loop")
    settings = PixieSettings(home=str(home), world_scale="tiny", world_seed=7, start_day=DAY)
    run(settings, ["world"])
    results = run_day(settings, DAY, ["homefeed"])
    return settings, results["homefeed"]


def _landing_files(settings, table: str) -> list[Path]:
    """The homefeed partition's part files of a landing table (one per shard), in order."""
    files = data_files(partition_dir(settings.landing_dir, table, DAY, "homefeed"))
    assert files, table
    return files


def _landing_table(settings, table: str) -> pa.Table:
    """The homefeed partition's rows of a landing table, every part file in order."""
    return pa.concat_tables(pq.read_table(path) for path in _landing_files(settings, table))


def _metadata(result, asset):
    materialization = result.asset_materializations_for_node(asset)[0]
    return {k: v.value for k, v in materialization.metadata.items()}


def test_candidates_are_written_with_graph_features(tiny_loop):
    settings, _ = tiny_loop
    folder = settings.resolved().candidates_partition_dir(DAY, "homefeed")
    candidates = read_candidates(folder)
    requests = pq.read_table(folder / "requests.parquet").to_pandas()
    assert len(requests) == 400  # 200 per 1,000 users × 2,000 users
    assert set(candidates["request_id"]) <= set(requests["request_id"])
    per_request = candidates.groupby("request_id").size()
    assert per_request.max() <= 200
    assert (candidates.groupby("request_id")["visit_rank"].min() == 1).all()
    assert (candidates["visit_count"] > 0).all() and (candidates["pin_degree"] > 0).all()
    # a request never gets its own query pins back
    queries = requests.set_index("request_id")["query_pin_ids"]
    pairs = zip(candidates["request_id"], candidates["pin_id"], strict=True)
    assert not any(pin in set(queries[request]) for request, pin in pairs)


def test_serving_log_has_the_contract_schema_and_every_candidate(tiny_loop):
    settings, _ = tiny_loop
    home = settings.resolved()
    log = _landing_table(home, "serving_log")
    assert log.schema.equals(contract.SERVING_LOG)
    candidates = read_candidates(home.candidates_partition_dir(DAY, "homefeed"))
    assert log.num_rows == len(candidates)
    frame = log.to_pandas()
    sent = frame.groupby("request_id")["sent_to_full_ranker"].sum()
    assert (sent <= 50).all() and sent.max() == 50
    assert (frame["model_version"] == "visit_count").all()


def test_ingested_tables_match_the_landing_files(tiny_loop):
    settings, _ = tiny_loop
    home = settings.resolved()
    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        for table in ("serving_log", "impressions", "engagements"):
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            files = _landing_files(home, table)
            assert n == sum(pq.ParquetFile(path).metadata.num_rows for path in files), table


def test_model_beats_visit_count_on_validation_auc(tiny_loop):
    _, result = tiny_loop
    meta = _metadata(result, "lightweight_model")
    assert meta["valid_auc"] > meta["valid_auc_visit_count"]
    assert meta["rows_valid"] > 1_000


def test_registry_holds_the_challenger_with_tags_and_feature_sql(tiny_loop):
    settings, result = tiny_loop
    from pixie_assets.training.tracking import configure_mlflow

    client: MlflowClient = configure_mlflow(settings.resolved())
    version = client.get_model_version_by_alias("pixie-lightweight-homefeed", "challenger")
    assert str(version.version) == _metadata(result, "lightweight_model")["model_version"]
    assert version.tags["day"] == DAY
    assert version.tags["strategy"] == "funnel_blended"
    assert version.tags["dagster_run_id"] == result.run_id
    model_dir = Path(
        mlflow.artifacts.download_artifacts(f"models:/pixie-lightweight-homefeed/{version.version}")
    )
    spec = (model_dir / "artifacts" / "feature_spec.json").read_text()
    assert "user_topic_affinity" in spec and "FROM candidates" in spec
    assert (model_dir / "code" / "featurize.py").exists()
    run = client.get_run(version.run_id)
    assert run.data.params["strategy"] == "funnel_blended"
    assert "feature_importance.png" in [a.path for a in client.list_artifacts(version.run_id)]


def test_fresh_process_elsewhere_scores_logged_rows_like_training(tiny_loop, tmp_path):
    """Load models:/…@challenger in a new interpreter whose working directory is elsewhere and
    whose sys.path does not hold the project: scores equal the training-time scorer's."""
    settings, _ = tiny_loop
    home = settings.resolved()
    from pixie_assets.training.registry import serving_scorer

    scorer = serving_scorer(home, "homefeed", alias="challenger")
    log = _landing_table(home, "serving_log").slice(0, 2_000)
    expected = scorer.score(log)
    batch = tmp_path / "batch.parquet"
    pq.write_table(log, batch)
    script = (
        "import sys, json, mlflow, pandas as pd, numpy as np\n"
        f"mlflow.set_tracking_uri({home.mlflow_tracking_uri!r})\n"
        "m = mlflow.pyfunc.load_model('models:/pixie-lightweight-homefeed@challenger')\n"
        f"scores = m.predict(pd.read_parquet({str(batch)!r}))\n"
        "assert not any(k.startswith('pixie_assets') for k in sys.modules)\n"
        f"np.save({str(tmp_path / 'scores.npy')!r}, np.asarray(scores))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, atol=1e-6)


def test_every_asset_check_of_the_day_passes(tiny_loop):
    _, result = tiny_loop
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert set(checks) == {
        "candidate_coverage",
        "keys_unique_not_null",
        "label_rate",
        "feature_drift",
        "registry_consistency",
    }
    assert all(checks.values()), checks
    meta = _metadata(result, "labeled_examples")
    assert 0 < meta["label_rate"] < 1


def test_offline_recomputed_features_equal_the_logged_ones(tiny_loop):
    """Parity: rebuild the day's feature context from the sources as an offline job would and
    featurize the logged candidates again; every feature equals its logged value."""
    from datetime import date, timedelta

    from pixie_assets.landing.sources import read_table
    from pixie_assets.serving.featurize import CONTEXT_LOOKBACK_DAYS, FeatureContext
    from pixie_assets.serving.scoring import repo_feature_spec

    settings, _ = tiny_loop
    home = settings.resolved()
    day = date.fromisoformat(DAY)
    log = _landing_table(home, "serving_log")
    since = day - timedelta(days=CONTEXT_LOOKBACK_DAYS)
    with FeatureContext(
        repo_feature_spec(),
        day,
        users=read_table(home, "users"),
        pins=read_table(home, "pins"),
        recent_saves=read_table(home, "saves", before=day, since=since),
        recent_engagements=read_table(home, "engagements", before=day, since=since),
    ) as context:
        recomputed = context.featurize(log.to_pandas())
    for name in contract.FEATURE_NAMES:
        np.testing.assert_allclose(
            recomputed[name].to_numpy(), log[name].to_numpy(), rtol=0, atol=1e-9, err_msg=name
        )


def test_corrupt_landing_file_fails_the_run_and_keeps_the_tables(tiny_loop):
    import dagster as dg

    from pixie_assets.defs.partitions import day_client_key
    from pixie_assets_tests.loop import ALL_ASSETS

    settings, _ = tiny_loop
    home = settings.resolved()
    path = _landing_files(home, "impressions")[0]
    original = path.read_bytes()
    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        before = con.sql("SELECT * FROM impressions ORDER BY request_id, pin_id").fetchall()
    path.write_bytes(original[: len(original) // 2])
    try:
        result = dg.materialize(
            ALL_ASSETS,
            selection=["serving_log_table"],
            partition_key=day_client_key(DAY, "homefeed"),
            resources={"pixie": settings},
            raise_on_error=False,
        )
    finally:
        path.write_bytes(original)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert str(path) in failure.message or str(path) in str(failure.cause)
    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        after = con.sql("SELECT * FROM impressions ORDER BY request_id, pin_id").fetchall()
    assert after == before


def test_an_evaluation_sample_is_whole_requests_fixed_by_their_ids(tiny_loop):
    """``model_evaluation`` scores at most ``EVALUATION_MAX_REQUESTS`` requests of a day: every
    candidate of a chosen request, the same requests on every call, and the whole day when it
    is smaller than the cap."""
    from datetime import date

    from pixie_assets.core.warehouse import reader
    from pixie_assets.training.evaluation import logged_outcomes

    settings, _ = tiny_loop
    day = date.fromisoformat(DAY)
    with reader(settings.resolved().duckdb_path) as con:
        whole = logged_outcomes(con, day, "homefeed")
        capped = logged_outcomes(con, day, "homefeed", 10_000_000)
        sample = logged_outcomes(con, day, "homefeed", 50)
        again = logged_outcomes(con, day, "homefeed", 50)
    key = ["request_id", "pin_id"]
    assert len(capped) == len(whole) and whole["request_id"].nunique() > 50
    assert sample["request_id"].nunique() == 50
    assert set(sample["request_id"]) == set(again["request_id"])
    per_request = whole.groupby("request_id").size()
    assert sample.groupby("request_id").size().equals(per_request[sorted(set(sample.request_id))])
    merged = sample.merge(whole, on=key, suffixes=("", "_whole"))
    assert len(merged) == len(sample) and (merged["saved"] == merged["saved_whole"]).all()
