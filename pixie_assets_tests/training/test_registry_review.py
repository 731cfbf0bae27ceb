"""What a reviewer finds in the registry and the evaluation (issue 15 items 9 and 10): the
registered model's description and tags, each version's state (pending, promoted, superseded),
the readable feature files beside ``feature_spec.json``, and the comparison as a row per metric.

Registry state is read back through ``MlflowClient``, the same data the MLflow REST API serves
to the UI."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from pixie_assets.core.clients import client_config
from pixie_assets.core.settings import Settings
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.training.evaluation import (
    RankerEvaluation,
    comparison_frame,
    review_markdown,
    sample_sizes,
)
from pixie_assets.training.promotion import (
    model_tags,
    superseded_description,
    superseded_note,
)
from pixie_assets.training.registry import load_scorer, mark_superseded
from pixie_assets.training.tracking import (
    CODE_FILES_TAG,
    EVALUATION_EXPERIMENT,
    configure_mlflow,
    log_evaluation_run,
)
from pixie_assets_tests.training.registry_builders import (
    CLIENT,
    MODEL,
    evaluate_tiny,
    fresh_store,
    publish_tiny,
    store_client,
    store_consistency,
)

DAY, NEXT_DAY, THIRD_DAY = "2026-11-01", "2026-11-02", "2026-11-03"
CONFIG = client_config(CLIENT)
PRIMARY = CONFIG.primary_metric  # auc_sent/save
NAN = float("nan")


@pytest.fixture
def home(tmp_path, tmp_path_factory) -> Path:
    return fresh_store(tmp_path, tmp_path_factory)


def _client(home: Path) -> MlflowClient:
    return store_client(home)


def _consistency(home: Path) -> dict:
    return store_consistency(home, CLIENT)


# --- item 10 (a) and (c): what a new version and its registered model say -----------------------


def test_a_new_version_describes_its_model_and_waits_for_its_evaluation(home, monkeypatch):
    version = publish_tiny(home, DAY).logged.version
    model = _client(home).get_registered_model(MODEL)
    assert model.tags == model_tags(CONFIG)
    assert model.tags["client"] == CLIENT and model.tags["primary_metric"] == PRIMARY
    assert model.tags["objective"] == CONFIG.objective
    assert model.description.startswith("Lightweight ranker of the **homefeed** surface")
    for said in (PRIMARY, "next day's logged candidates", "1.0%", CONFIG.fallback_metric):
        assert said in model.description

    fresh = _client(home).get_model_version(MODEL, version)
    assert fresh.tags["promotion"] == "pending"
    assert fresh.description.startswith("**Pending evaluation.**")
    assert _consistency(home)["consistent"], _consistency(home)["problems"]

    # idempotent: a second training finds description and tags as they should be
    def refuse(*args, **kwargs):
        raise AssertionError("the registered model was rewritten although nothing changed")

    monkeypatch.setattr(MlflowClient, "update_registered_model", refuse)
    monkeypatch.setattr(MlflowClient, "set_registered_model_tag", refuse)
    publish_tiny(home, NEXT_DAY)
    assert _client(home).get_model_version(MODEL, "2").tags["promotion"] == "pending"


# --- item 10 (b): a champion replaced says so -----------------------------------------------------


def _two_champions(home: Path) -> None:
    """Version 1 promoted over visit count, then version 2 promoted over version 1."""
    publish_tiny(home, DAY)
    assert evaluate_tiny(home, DAY, challenger=0.7, baseline=0.6).promote
    publish_tiny(home, NEXT_DAY)
    assert evaluate_tiny(home, NEXT_DAY, challenger=0.8, baseline=0.7).promote


@pytest.mark.slow  # a few seconds: two published and evaluated versions
def test_a_promotion_marks_the_champion_it_replaces_superseded(home):
    _two_champions(home)
    client = _client(home)
    old, new = client.get_model_version(MODEL, "1"), client.get_model_version(MODEL, "2")
    assert old.tags["promotion"] == "superseded" and old.tags["superseded_by"] == "2"
    assert old.description.startswith(superseded_note("2"))
    assert "wins:" in old.description  # its own review is kept below the note
    assert new.tags["promotion"] == "promoted" and "champion" in new.aliases
    assert _consistency(home) == {
        "versions": 2,
        "promoted_versions": 2,
        "champion": "2",
        "challenger": "2",
        "consistent": True,
        "problems": [],
    }

    # a rejected third version leaves both as they are
    publish_tiny(home, THIRD_DAY)
    assert not evaluate_tiny(home, THIRD_DAY, challenger=0.5, baseline=0.8).promote
    assert client.get_model_version(MODEL, "3").tags["promotion"] == "rejected"
    assert client.get_model_version(MODEL, "1").tags == old.tags
    assert client.get_model_version(MODEL, "2").tags["promotion"] == "promoted"
    assert _consistency(home)["consistent"], _consistency(home)["problems"]


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_an_unmarked_superseded_champion_is_reported_then_marked_once(home):
    """What a kill between the superseded writes leaves (the note and superseded_by written,
    promotion still promoted), or a registry from before versions were marked: reported, and
    the next evaluation marks it without writing the note twice."""
    _two_champions(home)
    client = _client(home)
    client.set_model_version_tag(MODEL, "1", "promotion", "promoted")
    assert _consistency(home)["problems"] == [
        "versions [1] are tagged promoted but @champion 2 replaced them "
        "(not yet marked superseded: the next evaluation marks them)"
    ]
    publish_tiny(home, THIRD_DAY)
    evaluate_tiny(home, THIRD_DAY, challenger=0.5, baseline=0.8)
    old = client.get_model_version(MODEL, "1")
    assert old.tags["promotion"] == "superseded" and old.tags["superseded_by"] == "2"
    assert old.description.count("**Superseded**") == 1
    assert _consistency(home)["consistent"], _consistency(home)["problems"]
    assert mark_superseded(Settings(home=home), CLIENT) == []  # nothing left to mark


@pytest.mark.slow  # a few seconds: published and evaluated versions
def test_re_evaluating_the_day_of_a_promotion_still_judges_it_against_the_one_it_replaced(home):
    _two_champions(home)
    again = evaluate_tiny(home, NEXT_DAY, challenger=0.8, baseline=0.7)
    assert again.promote and again.guard == "already_champion"
    assert again.baseline_name == "champion"  # version 1, superseded, not visit count
    assert _client(home).get_model_version(MODEL, "1").tags["promotion"] == "superseded"


def test_a_superseded_note_is_written_once():
    once = superseded_description("Evaluated on homefeed logs of 2026-11-02.", "2")
    assert once.startswith(superseded_note("2")) and once.endswith("2026-11-02.")
    assert superseded_description(once, "2") == once


# --- item 10 (d): the feature SQL, readable beside feature_spec.json ------------------------------


def test_a_version_stores_its_feature_sql_and_names_as_readable_files(home):
    version = publish_tiny(home, DAY).logged.version
    client = _client(home)
    registered = client.get_model_version(MODEL, version)
    model_id = registered.source.removeprefix("models:/")  # the logged model the UI shows
    listed = {f.path for f in client.list_logged_model_artifacts(model_id, "artifacts")}
    assert {
        "artifacts/feature_spec.json",
        "artifacts/features.sql",
        "artifacts/features.txt",
        "artifacts/feature_context",
    } <= listed
    spec = repo_feature_spec()
    context = client.list_logged_model_artifacts(model_id, "artifacts/feature_context")
    assert sorted(f.path for f in context) == sorted(
        f"artifacts/feature_context/{name}.sql" for name in spec.context_sql
    )

    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{version}"))
    assert (folder / "artifacts" / "features.sql").read_text() == spec.features_sql
    assert (folder / "artifacts" / "features.txt").read_text().split() == list(spec.feature_names)
    for name, sql in spec.context_sql.items():
        assert (folder / "artifacts" / "feature_context" / f"{name}.sql").read_text() == sql
    # covered by the version's digest like every stored file, and the version still loads
    assert '"artifacts/features.sql"' in registered.tags[CODE_FILES_TAG]
    load_scorer(Settings(home=home), CLIENT, version)


# --- item 9: the comparison as a row per metric -----------------------------------------------


def _figures(primary: float) -> dict[str, float]:
    """A few figures in the order the evaluation reports them, the primary not first."""
    return {
        "auc_sent/click": primary - 0.1,
        "auc_impressed/click": NAN,
        PRIMARY: primary,
        "auc_impressed/save": primary - 0.05,
        "dr/save_per_request": primary / 4,
    }


EVALUATIONS = [
    RankerEvaluation("visit_count", "visit_count", _figures(0.6)),
    RankerEvaluation("challenger", f"{MODEL}/2", _figures(0.66)),
    RankerEvaluation("champion", f"{MODEL}/1", _figures(0.62)),
]


def _outcomes() -> pd.DataFrame:
    """Two requests of four candidates: 6 sent, 3 shown, 2 saved (1 of them sent), 1 hidden."""
    return pd.DataFrame(
        {
            "request_id": ["a"] * 4 + ["b"] * 4,
            "sent_to_full_ranker": [1, 1, 1, 0, 1, 1, 1, 0],
            "impressed": [1, 0, 0, 0, 1, 1, 0, 0],
            "saved": [1, 0, 0, 1, 0, 0, 0, 0],
            "clicked": [1, 0, 0, 0, 1, 0, 0, 0],
            "closeup": [0] * 8,
            "hidden": [0, 0, 0, 0, 0, 1, 0, 0],
        }
    )


def _rows(table: str) -> list[list[str]]:
    """The cells of the table's rows (the first block of the markdown), header first."""
    lines = table.split("\n\n")[0].splitlines()
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines if "---" not in line]


def test_the_comparison_has_a_row_per_metric_the_primary_first():
    sample = sample_sizes(_outcomes(), CONFIG)
    table = review_markdown(comparison_frame(EVALUATIONS), PRIMARY, sample)
    header, first, *others = _rows(table)
    columns = ["visit count", "champion", "challenger", "Δ (challenger − champion)"]
    assert header == ["metric", *columns]
    assert first == [f"**{PRIMARY}** (primary)", "0.6000", "0.6200", "0.6600", "+0.0400"]
    # the others grouped by family, in the order the evaluation first reports each
    assert [row[0] for row in others] == [
        "auc_sent/click",
        "auc_impressed/click",
        "auc_impressed/save",
        "dr/save_per_request",
    ]
    assert others[1][1:] == ["–", "–", "–", "–"]  # undefined, and so is its difference
    assert f"champion = `{MODEL}/1`; challenger = `{MODEL}/2`" in table
    assert sample.markdown() in table


def test_without_a_champion_the_difference_is_to_visit_count_and_without_challenger_none():
    first_day = comparison_frame([EVALUATIONS[0], EVALUATIONS[1]])
    header, first, *_ = _rows(review_markdown(first_day, PRIMARY))
    assert header == ["metric", "visit count", "challenger", "Δ (challenger − visit count)"]
    assert first[-1] == "+0.0600"
    header, *_ = _rows(review_markdown(comparison_frame(EVALUATIONS[:1]), PRIMARY))
    assert header == ["metric", "visit count"]


def test_sample_sizes_count_what_the_figures_rest_on():
    sample = sample_sizes(_outcomes(), CONFIG)
    assert (sample.requests, sample.candidates, sample.sent, sample.impressions) == (2, 8, 6, 3)
    assert sample.primary == "save" and sample.primary_positives == 1
    assert sample.actions == {"save": 2, "click": 2, "closeup": 0, "hide": 1}
    assert sample.as_metrics()["sample.sent_with_save"] == 1.0
    empty = sample_sizes(_outcomes().iloc[:0], CONFIG)
    assert empty.requests == 0 and empty.primary_positives == 0


def test_the_evaluation_run_shows_the_decision_and_comparison_and_logs_the_sample(home):
    frame = comparison_frame(EVALUATIONS)
    sample = sample_sizes(_outcomes(), CONFIG)
    table = review_markdown(frame, PRIMARY, sample)
    run_id = log_evaluation_run(
        Settings(home=home),
        CLIENT,
        NEXT_DAY,
        EVALUATIONS,
        frame=frame,
        table=table,
        decision_tags={"promotion": "promoted", "promotion_reason": "wins: 0.66 vs 0.62"},
        dagster_run_id="test-run",
        sample=sample.as_metrics(),
    )
    run = configure_mlflow(Settings(home=home), EVALUATION_EXPERIMENT).get_run(run_id)
    description = run.data.tags["mlflow.note.content"]
    assert description.startswith("**Decision: promoted** — wins: 0.66 vs 0.62\n\n")
    assert description.endswith(table)
    assert run.data.metrics["sample.requests"] == 2.0
    assert math.isclose(run.data.metrics["challenger.auc_sent.save"], 0.66)
    text = mlflow.artifacts.load_text(f"runs:/{run_id}/comparison.md")
    assert text == table
