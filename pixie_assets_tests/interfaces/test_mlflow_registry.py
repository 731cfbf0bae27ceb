"""The model registry through the REST API of `mlflow server`, over the deployment where the loop
ran through Dagster (tests share the package's `loop`)."""

from __future__ import annotations

import re
import time

import pytest
import requests

from pixie_assets.core.clients import client_config
from pixie_assets_tests.interfaces.dagster_ui import DAYS
from pixie_assets_tests.interfaces.harness import TIMINGS, VENV_BIN, Server, free_port

CLIENT = "homefeed"
MODEL = f"pixie-lightweight-{CLIENT}"
# a markdown table: a header row, then a separator row such as |---|:---:|
TABLE = re.compile(r"^\|.*\|\s*\n\|(\s*:?-{3,}:?\s*\|)+\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def mlflow_api(deployment, loop):
    if loop.failure is not None:
        pytest.fail(f"the loop did not complete, so there is no registry to read:\n{loop.failure}")
    port = free_port()
    home = deployment.home
    server = Server(
        "mlflow server",
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow.db'}",
            "--default-artifact-root",
            str(home / "mlartifacts"),
        ],
        env=deployment.env,
        log_path=deployment.log_dir / "mlflow_server.log",
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        server.wait_until(
            lambda: requests.get(f"{base}/health", timeout=5).text.strip() == "OK",
            what="HTTP /health",
            timeout=120,
        )
        TIMINGS["mlflow server ready"] = time.monotonic() - started
        yield f"{base}/api/2.0/mlflow"
    finally:
        server.stop()


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
