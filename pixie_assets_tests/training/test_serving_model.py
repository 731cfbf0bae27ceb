"""Which model serves a partition (#13 item 7): the decision, and the record it rests on."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixie_assets.core.settings import Settings
from pixie_assets.landing import partition_dir
from pixie_assets.serving.scoring import VisitCountScorer
from pixie_assets.training.serving_model import (
    ServingModelError,
    choose_serving_model,
    served_version,
    serving_scorer_for,
)


def test_first_serve_uses_the_champion_a_rerun_the_record_an_override_wins():
    assert choose_serving_model(None).model == "champion"
    rerun = choose_serving_model("pixie-lightweight-homefeed/3")
    assert rerun.model == "pixie-lightweight-homefeed/3" and rerun.reason.startswith("re-run")
    override = choose_serving_model("pixie-lightweight-homefeed/3", "champion")
    assert override.model == "champion"
    assert "override" in override.reason and "was pixie-lightweight-homefeed/3" in override.reason


def _write_served(landing, versions: list[str], day="2026-11-02", client="homefeed"):
    folder = partition_dir(landing, "serving_log", day, client)
    folder.mkdir(parents=True)
    for i, version in enumerate(versions):
        pq.write_table(
            pa.table({"model_version": [version, version]}), folder / f"part-{i}.parquet"
        )


def test_the_recorded_version_is_read_from_the_partitions_serving_log(tmp_path):
    assert served_version(tmp_path, "2026-11-02", "homefeed") is None
    _write_served(tmp_path, ["pixie-lightweight-homefeed/2", "pixie-lightweight-homefeed/2"])
    assert served_version(tmp_path, "2026-11-02", "homefeed") == "pixie-lightweight-homefeed/2"


def test_a_partition_served_by_two_models_asks_for_an_override(tmp_path):
    _write_served(tmp_path, ["visit_count", "pixie-lightweight-homefeed/2"])
    with pytest.raises(ServingModelError, match="several models.*explicit model_version"):
        served_version(tmp_path, "2026-11-02", "homefeed")


def test_model_names_are_checked_before_the_registry_is_asked(tmp_path):
    settings = Settings(home=tmp_path)
    assert isinstance(serving_scorer_for(settings, "homefeed", "visit_count"), VisitCountScorer)
    with pytest.raises(ServingModelError, match="another client"):
        serving_scorer_for(settings, "homefeed", "pixie-lightweight-related_pins/2")
    with pytest.raises(ServingModelError, match="not 'champion'"):
        serving_scorer_for(settings, "homefeed", "latest")
