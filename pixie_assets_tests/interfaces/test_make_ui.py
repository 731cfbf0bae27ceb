"""`make ui` as a user starts it (README, *The UIs*): both UIs answer, Dagster's instance is the one
under DAGSTER_HOME without a warning that says otherwise, and MLflow logs no line per request."""

from __future__ import annotations

import re

import requests

from pixie_assets_tests.interfaces.dagster_ui import UNUSED_CONFIG_WARNING, USER_SETTING, UIs

# uvicorn's access log: `INFO:     127.0.0.1:53412 - "GET /health HTTP/1.1" 200 OK`
ACCESS_LINE = re.compile(r'"(GET|POST) /\S* HTTP/1\.[01]" \d{3}')


def test_dagster_runs_on_the_users_instance_config_without_the_unused_config_warning(
    make_ui: UIs, deployment
):
    """Issue 15 item 2, as the UI reports its instance: the dagster.yaml under DAGSTER_HOME,
    edited by the user, is the one in use and is left as they wrote it, and `make ui` prints no
    warning that a dagster.yaml "will not be used"."""
    info = make_ui.graphql("{ instance { info } }")["instance"]["info"]
    assert str(deployment.home / "dagster_home") in info
    assert "local_startup_timeout: 361" in info, info
    config = (deployment.home / "dagster_home" / "dagster.yaml").read_text()
    assert config.endswith(USER_SETTING)
    log = make_ui.server.log_path.read_text(errors="replace")
    assert UNUSED_CONFIG_WARNING not in log, log[-3000:]


def test_mlflow_answers_without_an_access_log_line_per_request(make_ui: UIs):
    for _ in range(3):
        assert requests.get(f"{make_ui.mlflow_url}/health", timeout=10).text.strip() == "OK"
    log = make_ui.server.log_path.read_text(errors="replace")
    assert not ACCESS_LINE.search(log), log[-3000:]
