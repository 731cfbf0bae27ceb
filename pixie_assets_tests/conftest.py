"""Shared fixtures: generated worlds are cached per session because several modules read them."""

from __future__ import annotations

from datetime import date

import pytest

from pixie_assets.core.settings import ensure_dagster_home
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.world import World, generate_world

START_DAY = date(2026, 11, 1)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into node ids
def pytest_collection_modifyitems(config, items):
    """For pytest-xdist's ``--dist loadgroup`` (``make test``): a module's tests stay on one
    worker, so a module-scoped fixture (a loop, a world) is built once, and every test of
    interfaces/ shares one worker, as they share one deployment (dagster dev, MLflow)."""
    for item in items:
        module = item.module.__name__
        group = "interfaces" if ".interfaces." in module else module
        item.add_marker(pytest.mark.xdist_group(group))


SEED = 7


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return generate_world("tiny", SEED, START_DAY)


@pytest.fixture(scope="session")
def demo_world() -> World:
    return generate_world("demo", SEED, START_DAY)


@pytest.fixture
def pixie_home(tmp_path, monkeypatch):
    """A private PIXIE_HOME (tiny world) for the test, also exported for subprocesses."""
    home = tmp_path / "pixie_home"
    home.mkdir()
    monkeypatch.setenv("PIXIE_HOME", str(home))
    monkeypatch.setenv("PIXIE_WORLD_SCALE", "tiny")
    monkeypatch.setenv("PIXIE_WORLD_SEED", str(SEED))
    monkeypatch.setenv("PIXIE_START_DAY", START_DAY.isoformat())
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    ensure_dagster_home()
    return home


@pytest.fixture
def tiny_settings(pixie_home) -> PixieSettings:
    return PixieSettings(
        home=str(pixie_home), world_scale="tiny", world_seed=SEED, start_day=START_DAY.isoformat()
    )
