"""The model registry through the REST API of the MLflow UI that `make ui` serves, over the
deployment where the loop ran through Dagster (tests share the package's `loop`)."""

from __future__ import annotations

import re

import pytest
import requests

from pixie_assets.core.clients import client_config
from pixie_assets_tests.interfaces.dagster_ui import DAYS

CLIENT = "homefeed"
MODEL = f"pixie-lightweight-{CLIENT}"
# a markdown table: a header row, then a separator row such as |---|:---:|
TABLE = re.compile(r"^\|.*\|\s*\n\|(\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def mlflow_api(make_ui, loop) -> str:
    if loop.failure is not None:
        pytest.fail(f"the loop did not complete, so there is no registry to read:\n{loop.failure}")
    return f"{make_ui.mlflow_url}/api/2.0/mlflow"


def _get(url: str, **params) -> requests.Response:
    return requests.get(url, params=params, timeout=30)


def test_registry_holds_one_tagged_version_per_day_with_aliases_and_review(mlflow_api, loop):
    model = _get(f"{mlflow_api}/registered-models/get", name=MODEL)
    assert model.status_code == 200, model.text
    assert model.json()["registered_model"]["name"] == MODEL

    found = _get(f"{mlflow_api}/model-versions/search", filter=f"name='{MODEL}'", max_results=100)
    assert found.status_code == 200, found.text
    versions = {v["version"]: v for v in found.json()["model_versions"]}
    tags = {n: {t["key"]: t["value"] for t in v.get("tags", [])} for n, v in versions.items()}

    # one version per day, tagged with its day, strategy and the Dagster run that trained it
    by_day = {t.get("day"): n for n, t in tags.items()}
    assert sorted(by_day) == DAYS, tags
    for day, number in by_day.items():
        assert tags[number]["strategy"] == client_config(CLIENT).strategy
        assert tags[number]["dagster_run_id"] == loop.clients[day, CLIENT].run_id

    # @challenger is the newest model
    challenger = _get(f"{mlflow_api}/registered-models/alias", name=MODEL, alias="challenger")
    assert challenger.status_code == 200, challenger.text
    assert challenger.json()["model_version"]["version"] == by_day[DAYS[-1]]

    # @champion is the last version an evaluation promoted, and absent if none was
    promoted = sorted(
        (t["evaluated_on"], n) for n, t in tags.items() if t.get("promotion") == "promoted"
    )
    champion = _get(f"{mlflow_api}/registered-models/alias", name=MODEL, alias="champion")
    if promoted:
        assert champion.status_code == 200, champion.text
        assert champion.json()["model_version"]["version"] == promoted[-1][1]
    else:
        assert champion.status_code in (400, 404), champion.text
        assert champion.json()["error_code"] in (
            "RESOURCE_DOES_NOT_EXIST",
            "INVALID_PARAMETER_VALUE",
        )
    aliases = {a["alias"]: a["version"] for a in model.json()["registered_model"]["aliases"]}
    assert aliases.get("challenger") == by_day[DAYS[-1]]
    assert aliases.get("champion") == (promoted[-1][1] if promoted else None)

    # model_evaluation of day D wrote its comparison on the version trained through D-1
    for previous, day in zip(DAYS, DAYS[1:], strict=False):
        number = by_day[previous]
        version = _get(f"{mlflow_api}/model-versions/get", name=MODEL, version=number).json()
        description = version["model_version"].get("description", "")
        assert tags[number]["evaluated_on"] == day
        assert "Evaluated on" in description and day in description, description
        assert TABLE.search(description), description
    assert "evaluated_on" not in tags[by_day[DAYS[-1]]]


def _versions(mlflow_api: str) -> dict[str, dict]:
    found = _get(f"{mlflow_api}/model-versions/search", filter=f"name='{MODEL}'", max_results=100)
    assert found.status_code == 200, found.text
    return {v["version"]: v for v in found.json()["model_versions"]}


def _tags(version: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in version.get("tags", [])}


def test_registry_reads_as_a_review_model_states_and_feature_files(mlflow_api, loop):
    """Issue 15 item 10 through MLflow's REST API: the registered model says what it is and
    how versions are judged; each version's state is in its tags and heads its description
    (pending, promoted or rejected, superseded by the version that replaced it); the feature SQL
    and feature list are readable files beside the model."""
    model = _get(f"{mlflow_api}/registered-models/get", name=MODEL).json()["registered_model"]
    assert CLIENT in model.get("description", "") and "@champion" in model["description"]
    assert {t["key"] for t in model.get("tags", [])} >= {"client", "primary_metric"}, model

    versions = _versions(mlflow_api)
    newest = max(versions, key=int)
    states = {number: _tags(v).get("promotion") for number, v in versions.items()}
    assert states[newest] == "pending", states
    assert versions[newest]["description"].startswith("**Pending evaluation.**")
    for number, state in states.items():
        tags, description = _tags(versions[number]), versions[number].get("description", "")
        if state == "superseded":
            successor = tags["superseded_by"]
            assert int(successor) > int(number), (number, tags)
            assert description.startswith(f"**Superseded**: version {successor} "), description
        assert state in ("pending", "promoted", "rejected", "superseded"), (number, state)
    champion = [n for n, state in states.items() if state == "promoted"]
    assert len(champion) <= 1, states  # only @champion is promoted; those before it superseded

    model_id = versions[newest]["source"].removeprefix("models:/")
    listed = _get(
        f"{mlflow_api}/logged-models/{model_id}/artifacts/directories",
        artifact_directory_path="artifacts",
    )
    assert listed.status_code == 200, listed.text
    files = {f["path"] for f in listed.json().get("files", [])}
    assert {"artifacts/features.sql", "artifacts/features.txt"} <= files, files
    assert "artifacts/feature_context" in files, files
