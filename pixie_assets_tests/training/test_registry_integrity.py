"""Registry writes that survive a kill, and model code that is checked before it runs (#13 items
8 and 9).

A child interpreter is killed by SIGKILL at a named failpoint (``core/failpoints.py``), in the
middle of the writes of a training or an evaluation; the test then reads what the registry
holds, checks that ``registry_consistency`` names what is half-done, runs the step again in
process and checks the registry is whole. Tampering tests change a stored model file under
``mlartifacts/`` the way someone with write access could, and check that ``load_scorer`` refuses
the version before any of its code runs."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pytest
from mlflow import MlflowClient

from pixie_assets.core.settings import Settings
from pixie_assets.training.registry import (
    REQUIRED_VERSION_TAGS,
    load_scorer,
    pin_stored_files,
)
from pixie_assets.training.tracking import (
    CODE_FILES_TAG,
    REPAIRED_BY_TAG,
    ModelIntegrityError,
)
from pixie_assets_tests.training.registry_builders import (
    CLIENT,
    MODEL,
    evaluate_tiny,
    fresh_store,
    in_child,
    partition_runs,
    publish_tiny,
    store_client,
    store_consistency,
    tiny_trained,
)

DAY, NEXT_DAY = "2026-11-01", "2026-11-02"
KILLED = -signal.SIGKILL


@pytest.fixture
def home(tmp_path, tmp_path_factory) -> Path:
    return fresh_store(tmp_path, tmp_path_factory)


def _client(home: Path) -> MlflowClient:
    return store_client(home)


def _consistency(home: Path) -> dict:
    return store_consistency(home, CLIENT)


def _stored_model_dir(home: Path, version: str) -> Path:
    uri = _client(home).get_model_version_download_uri(MODEL, version)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))  # the stored folder itself


def _no_separate_tag_writes(monkeypatch) -> None:
    """Training must create each version with its tags, never tag it afterwards."""

    def refuse(*args, **kwargs):
        raise AssertionError("a version was tagged after its creation")

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", refuse)


# --- item 8: training -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["train.after_run_start", "train.after_register"])
def test_a_killed_training_leaves_no_untagged_version_and_its_rerun_repairs(
    home, monkeypatch, failpoint
):
    child = in_child(f"publish_tiny(Path({str(home)!r}), {DAY!r})", failpoint)
    assert child.returncode == KILLED, child.stderr[-3000:]

    [stale] = partition_runs(home, DAY)
    assert stale.info.status == "RUNNING"
    versions = _client(home).search_model_versions(f"name = '{MODEL}'")
    if failpoint == "train.after_register":
        [version] = versions  # registered, and already carrying every tag
        assert set(REQUIRED_VERSION_TAGS) | {CODE_FILES_TAG} <= set(version.tags)
        assert version.run_id == stale.info.run_id
    else:
        assert not versions
    report = _consistency(home)
    assert not report["consistent"]
    assert any(stale.info.run_id in p and "RUNNING" in p for p in report["problems"])
    if versions:
        assert any("@challenger is unset" in p for p in report["problems"]), report

    _no_separate_tag_writes(monkeypatch)
    published = publish_tiny(home, DAY)
    assert published.repaired_runs == (stale.info.run_id,)
    runs = {r.info.run_id: r for r in partition_runs(home, DAY)}
    assert runs[stale.info.run_id].info.status == "KILLED"
    assert runs[stale.info.run_id].data.tags[REPAIRED_BY_TAG] == published.run_id
    assert runs[published.run_id].info.status == "FINISHED"
    report = _consistency(home)
    assert report["consistent"], report["problems"]
    assert report["challenger"] == published.logged.version


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_a_training_run_finishes_after_its_version_is_the_challenger(home, monkeypatch):
    _no_separate_tag_writes(monkeypatch)
    published = publish_tiny(home, DAY)
    version = _client(home).get_model_version(MODEL, published.logged.version)
    assert version.aliases == ["challenger"]
    assert set(REQUIRED_VERSION_TAGS) <= set(version.tags)
    assert version.tags["code_sha256"] == published.logged.code_sha256
    [run] = partition_runs(home, DAY)
    assert run.info.status == "FINISHED" and run.info.run_id == version.run_id
    assert _consistency(home)["consistent"]


# --- item 8: evaluation -------------------------------------------------------------------------


def _champion_then_challenger(home: Path) -> None:
    """Version 1 (trained through DAY) promoted to @champion, version 2 (NEXT_DAY) trained."""
    publish_tiny(home, DAY)
    assert evaluate_tiny(home, DAY, challenger=0.7, baseline=0.6).promote
    publish_tiny(home, NEXT_DAY)


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["evaluate.before_alias", "evaluate.after_alias"])
def test_a_killed_promotion_never_tags_before_the_alias_and_its_rerun_completes_it(home, failpoint):
    _champion_then_challenger(home)
    child = in_child(f"evaluate_tiny(Path({str(home)!r}), {NEXT_DAY!r}, 0.8, 0.7)", failpoint)
    assert child.returncode == KILLED, child.stderr[-3000:]

    client = _client(home)
    assert client.get_model_version(MODEL, "2").tags["promotion"] == "pending"
    report = _consistency(home)
    if failpoint == "evaluate.after_alias":
        assert report["champion"] == "2" and not report["consistent"]
        assert report["problems"] == [
            "@champion is version 2, which is not tagged promotion=promoted "
            "(its evaluation did not finish: run it again)"
        ]
    else:  # nothing was written to the registry
        assert report["champion"] == "1" and report["consistent"], report

    # the same evaluation again: judged against version 1, the champion it replaces or replaced
    decision = evaluate_tiny(home, NEXT_DAY, 0.8, 0.7)
    assert decision.promote and decision.baseline_name == "champion"
    version = client.get_model_version(MODEL, "2")
    assert version.tags["promotion"] == "promoted" and version.aliases == ["challenger", "champion"]
    assert _consistency(home)["consistent"], _consistency(home)


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_evaluating_a_day_whose_challenger_already_serves_keeps_it_promoted(home):
    """A repeated evaluation of the day that promoted version 2 neither demotes it nor judges
    it against itself: it stays @champion, tagged promoted, and the reason says why."""
    _champion_then_challenger(home)
    assert evaluate_tiny(home, NEXT_DAY, challenger=0.8, baseline=0.7).promote
    again = evaluate_tiny(home, NEXT_DAY, challenger=0.6, baseline=0.7)
    assert again.promote and again.guard == "already_champion"
    assert "already @champion" in again.reason and "does not win" in again.reason
    assert _consistency(home)["champion"] == "2"
    assert _consistency(home)["consistent"]


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_re_evaluating_an_old_day_never_replaces_a_later_champion_nor_its_review(home):
    _champion_then_challenger(home)
    assert evaluate_tiny(home, NEXT_DAY, challenger=0.8, baseline=0.7).promote
    client = _client(home)
    before = client.get_model_version(MODEL, "1").tags

    backfill = evaluate_tiny(home, DAY, challenger=0.9, baseline=0.8)  # version 1 "wins" now
    assert not backfill.promote and backfill.guard == "champion_trained_later"
    assert "champion trained on a later day (2026-11-02)" in backfill.reason
    assert _consistency(home)["champion"] == "2"
    assert client.get_model_version(MODEL, "1").tags == before  # its first review stands
    assert _consistency(home)["consistent"]


def test_registry_consistency_names_each_inconsistency(home):
    _champion_then_challenger(home)
    assert evaluate_tiny(home, NEXT_DAY, challenger=0.8, baseline=0.7).promote
    client = _client(home)
    assert _consistency(home) == {
        "versions": 2,
        "promoted_versions": 2,
        "champion": "2",
        "challenger": "2",
        "consistent": True,
        "problems": [],
    }
    client.set_registered_model_alias(MODEL, "champion", "1")  # a rollback by hand
    client.delete_model_version_tag(MODEL, "1", "strategy")
    client.set_registered_model_alias(MODEL, "challenger", "1")
    assert _consistency(home)["problems"] == [
        "version 1 lacks tag(s) strategy",
        "versions [2] are tagged promoted but are newer than @champion 1",
        "@challenger is version 1 but the newest version is 2 "
        "(its training did not finish: run it again)",
    ]
    client.delete_registered_model_alias(MODEL, "champion")
    assert (
        "versions [2] are tagged promoted but there is no @champion"  # version 1 superseded
        in (_consistency(home)["problems"])
    )


# --- item 9: the stored code is checked before it runs ------------------------------------------

SENTINEL_CODE = "\nimport pathlib\npathlib.Path({path!r}).write_text('executed')\n"


@pytest.mark.parametrize(
    "stored_file",
    [
        "pyfunc_model.py",  # the models-from-code entry point, executed on every load
        pytest.param("code/featurize.py", marks=pytest.mark.slow),  # a code_paths file
        # a file added beside it: code/ is first on sys.path, so it shadows the real duckdb
        pytest.param("code/duckdb.py", marks=pytest.mark.slow),
        pytest.param("MLmodel", marks=pytest.mark.slow),  # names the loader and the code file
    ],
)
def test_a_tampered_stored_file_is_refused_before_any_code_runs(home, tmp_path, stored_file):
    version = publish_tiny(home, DAY).logged.version
    load_scorer(Settings(home=home), CLIENT, version)  # loads while untouched
    sentinel = tmp_path / "tampered-code-ran"
    target = _stored_model_dir(home, version) / stored_file
    with target.open("a") as handle:
        handle.write(SENTINEL_CODE.format(path=str(sentinel)) if stored_file != "MLmodel" else "#")

    with pytest.raises(ModelIntegrityError) as refused:
        load_scorer(Settings(home=home), CLIENT, version)
    message = str(refused.value)
    assert f"{MODEL} version {version}" in message
    assert stored_file in message and "Refusing to load" in message
    assert not sentinel.exists()
    if stored_file == "pyfunc_model.py":  # the tampering is real: unchecked loading runs it
        mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
        assert sentinel.read_text() == "executed"


def test_a_version_without_code_sha256_is_refused(home):
    version = publish_tiny(home, DAY).logged.version
    _client(home).delete_model_version_tag(MODEL, version, "code_sha256")
    with pytest.raises(ModelIntegrityError, match=f"{MODEL} version {version} has no code_sha256"):
        load_scorer(Settings(home=home), CLIENT, version)
    assert f"version {version} lacks tag(s) code_sha256" in _consistency(home)["problems"]


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_a_version_registered_before_digests_can_be_pinned_once(home):
    version = publish_tiny(home, DAY).logged.version
    client = _client(home)
    recorded = client.get_model_version(MODEL, version).tags
    for tag in ("code_sha256", CODE_FILES_TAG):  # as versions were registered before #13
        client.delete_model_version_tag(MODEL, version, tag)
    assert pin_stored_files(Settings(home=home), CLIENT, version) == recorded["code_sha256"]
    assert client.get_model_version(MODEL, version).tags == recorded
    load_scorer(Settings(home=home), CLIENT, version)
    with pytest.raises(ModelIntegrityError, match="already has a code_sha256"):
        pin_stored_files(Settings(home=home), CLIENT, version)


def test_the_checked_copy_loads_and_scores_like_the_booster(home):
    published = publish_tiny(home, DAY)
    scorer = load_scorer(Settings(home=home), CLIENT, published.logged.version)
    assert scorer.version == f"{MODEL}/{published.logged.version}"
    names = scorer.feature_spec.feature_names
    features = np.random.default_rng(1).normal(size=(20, len(names)))
    expected = tiny_trained().booster.inplace_predict(features, predict_type="margin")
    scores = scorer.score(pa.table({n: features[:, i] for i, n in enumerate(names)}))
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert not any("pixie-model-" in entry for entry in sys.path)  # no temporary copy left there
