from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pixie_assets.core.settings import Settings, SettingsError, ensure_dagster_home


def test_defaults_and_paths_derive_from_pixie_home(tmp_path):
    settings = Settings.from_env({"PIXIE_HOME": str(tmp_path)})
    assert settings.world_scale == "demo" and settings.world_seed == 7
    assert settings.source == "world" and settings.start_day == date(2026, 11, 1)
    for path in (settings.world_dir, settings.truth_dir, settings.graph_dir, settings.duckdb_path):
        assert path.is_relative_to(tmp_path)
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"


def test_relative_home_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).home == tmp_path / "data"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PIXIE_WORLD_SCALE": "huge"}, "PIXIE_WORLD_SCALE"),
        ({"PIXIE_WORLD_SEED": "seven"}, "PIXIE_WORLD_SEED"),
        ({"PIXIE_START_DAY": "01/11/2026"}, "PIXIE_START_DAY"),
        ({"PIXIE_SOURCE": "kafka"}, "PIXIE_SOURCE"),
    ],
)
def test_bad_settings_name_the_variable(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_dagster_home_gets_the_project_config_with_sqlite_storage(tmp_path):
    home = ensure_dagster_home({"PIXIE_HOME": str(tmp_path)})
    assert home == tmp_path / "dagster_home"
    text = (home / "dagster.yaml").read_text()
    assert "default_limit: 1" in text and "sqlite" in text and str(home / "storage") in text
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        assert Path(instance.root_directory) == home


POSTGRES_INSTANCE = """storage:
  postgres:
    postgres_url: postgresql://dagster@db:5432/dagster
"""


def test_your_dagster_yaml_is_never_overwritten_and_its_differences_are_named(tmp_path):
    """Issue 15 item 2: a Postgres-backed instance config was replaced by the project's."""
    target = tmp_path / "dagster_home" / "dagster.yaml"
    target.parent.mkdir()
    target.write_text(POSTGRES_INSTANCE)
    said: list[str] = []
    ensure_dagster_home({"PIXIE_HOME": str(tmp_path)}, warn=said.append)
    assert target.read_text() == POSTGRES_INSTANCE
    (message,) = said
    assert str(target) in message and "using it unchanged" in message
    assert "`storage` differs" in message and "`concurrency` missing" in message


def test_the_projects_own_dagster_yaml_follows_the_project_until_you_edit_it(tmp_path):
    home = ensure_dagster_home({"PIXIE_HOME": str(tmp_path)})
    target = home / "dagster.yaml"
    stale = target.read_text().replace("default_limit: 1", "default_limit: 3")
    old_mark = stale.partition("\n")[0]
    import hashlib

    from pixie_assets.core.settings import GENERATED_MARK

    body = stale.partition("\n")[2]
    assert old_mark.startswith(GENERATED_MARK)
    # written by an older version of the project (its digest matches): updated silently
    target.write_text(f"{GENERATED_MARK}{hashlib.sha256(body.encode()).hexdigest()}\n{body}")
    said: list[str] = []
    ensure_dagster_home({"PIXIE_HOME": str(tmp_path)}, warn=said.append)
    assert "default_limit: 1" in target.read_text() and said == []
    # edited by hand (the digest no longer matches): yours from now on
    edited = target.read_text().replace("default_limit: 1", "default_limit: 2")
    target.write_text(edited)
    ensure_dagster_home({"PIXIE_HOME": str(tmp_path)}, warn=said.append)
    assert target.read_text() == edited and len(said) == 1 and "`concurrency` differs" in said[0]


def test_landing_folder_is_yours_outside_world_mode(tmp_path):
    env = {"PIXIE_HOME": str(tmp_path), "PIXIE_LANDING": str(tmp_path / "exports")}
    assert Settings.from_env(env).landing_dir == tmp_path / "landing"  # world mode: the simulator's
    landing = Settings.from_env({**env, "PIXIE_SOURCE": "landing"}).landing_dir
    assert landing == tmp_path / "exports"
    assert Settings.from_env(
        {"PIXIE_HOME": str(tmp_path), "PIXIE_SOURCE": "replay"}
    ).landing_dir == (tmp_path / "landing")
