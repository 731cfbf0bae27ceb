"""The UIs' base addresses (PIXIE_DAGSTER_URL, PIXIE_MLFLOW_URL) and the links built on them."""

from __future__ import annotations

import pandas as pd
import pytest

from pixie_assets.core.settings import (
    DEFAULT_DAGSTER_URL,
    DEFAULT_MLFLOW_URL,
    SettingsError,
    UiUrls,
)
from pixie_assets.defs.assets.evaluation import _primary_metadata
from pixie_assets.defs.metadata import dagster_run_url, versus
from pixie_assets.training.promotion import RunLink, pending_description
from pixie_assets.training.tracking import mlflow_run_url, model_version_url


def test_defaults_are_where_make_ui_serves_the_uis():
    urls = UiUrls.from_env({})
    assert (urls.dagster, urls.mlflow) == (DEFAULT_DAGSTER_URL, DEFAULT_MLFLOW_URL)
    assert urls.dagster == "http://127.0.0.1:3000" and urls.mlflow == "http://127.0.0.1:5000"
    assert UiUrls.from_env({"PIXIE_DAGSTER_URL": "", "PIXIE_MLFLOW_URL": ""}) == urls


def test_a_trailing_slash_is_dropped_so_links_have_one():
    urls = UiUrls.from_env(
        {"PIXIE_DAGSTER_URL": "https://dagster.corp/", "PIXIE_MLFLOW_URL": "http://h:80/ml/"}
    )
    assert dagster_run_url(urls.dagster, "abc") == "https://dagster.corp/runs/abc"
    assert mlflow_run_url(urls.mlflow, "3", "r1") == "http://h:80/ml/#/experiments/3/runs/r1"
    assert model_version_url(urls.mlflow, "pixie-lightweight-homefeed", "2") == (
        "http://h:80/ml/#/models/pixie-lightweight-homefeed/versions/2"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PIXIE_DAGSTER_URL", "127.0.0.1:3000"), ("PIXIE_MLFLOW_URL", "http://h:5000/#/x")],
)
def test_a_bad_address_names_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        UiUrls.from_env({variable: value})


def test_versus_shows_the_side_the_value_fell_on():
    assert versus(0.14, 0.25) == "0.14 ≤ 0.25"
    assert versus(0.31, 0.25) == "0.31 > 0.25"
    assert versus(0.95, 0.9, upper=False, fmt="{:.0%}") == "95% ≥ 90%"
    assert versus(float("nan"), 0.25) == "nan > 0.25"


def test_pending_description_links_the_training_run():
    from pixie_assets.core.clients import client_config

    text = pending_description(
        client_config("homefeed"), "2026-11-01", "funnel_blended", RunLink("r1", "http://d/runs/r1")
    )
    assert text.endswith("Trained by Dagster run [r1](http://d/runs/r1).")


def test_primary_keys_are_the_same_for_every_client():
    frame = pd.DataFrame(
        {"auc_sent/save": [0.5, 0.6, 0.66], "auc_sent/click": [0.4, 0.5, 0.7]},
        index=["visit_count", "champion", "challenger"],
    )
    save = _primary_metadata(frame, "auc_sent/save")
    click = _primary_metadata(frame.drop(index="champion"), "auc_sent/click")
    assert save == pytest.approx(
        {
            "primary/visit_count": 0.5,
            "primary/champion": 0.6,
            "primary/challenger": 0.66,
            "primary/lift": 0.32,
        }
    )
    assert set(click) == {"primary/visit_count", "primary/challenger", "primary/lift"}
    assert click["primary/lift"] == pytest.approx(0.75)
    assert _primary_metadata(frame.loc[["visit_count"]], "auc_sent/save") == {
        "primary/visit_count": 0.5
    }
