"""Shared fixtures: generated worlds are cached per session because several modules read them."""

from __future__ import annotations

from datetime import date

import pytest

from pixie_assets.core.settings import ensure_dagster_home
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.world import World, generate_world

START_DAY = date(2026, 11, 1)


# Units of `make test`'s pytest-xdist run that take longest, started first so neither worker is
# left with a long one at the end (the rest follow, most tests first, as xdist orders them).
LONG_UNITS_FIRST = (
    "interfaces",
    "pixie_assets_tests/test_readme_commands.py",
    "pixie_assets_tests/test_readme_scale.py",
    "pixie_assets_tests/online/test_service.py",
    "pixie_assets_tests/online/test_closed_loop.py",
    "pixie_assets_tests/test_demo_runs_in_ui.py",
    "pixie_assets_tests/operations/test_chaos.py",
    "pixie_assets_tests/test_demo_console.py",
    "pixie_assets_tests/assets/test_world_asset.py",
    "pixie_assets_tests/assets/test_continuous_loop.py",
    "pixie_assets_tests/assets/test_review_links.py",
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or "interfaces" for every test of that
    folder (they share one deployment: dagster dev, MLflow and the loop they ran). A unit runs
    on one worker, so a module- or package-scoped fixture is built once."""
    path = nodeid.split("::", 1)[0]
    return "interfaces" if path.startswith("pixie_assets_tests/interfaces/") else path


def pytest_xdist_make_scheduler(config, log):
    """`make test`'s scheduler: xdist's load-by-scope with the scopes of ``unit_of``.

    Not ``--dist loadgroup``: xdist 3.8 groups by a suffix it writes into ``item._nodeid``, which
    pytest 9.2 no longer reads, so every test became its own unit and modules' fixtures were
    built on both workers (the interface loop twice)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            first = {unit: rank for rank, unit in enumerate(LONG_UNITS_FIRST)}
            queued = sorted(self.workqueue.items(), key=lambda kv: first.get(kv[0], len(first)))
            self.workqueue.clear()
            self.workqueue.update(queued)
            super()._assign_work_unit(node)

    return ModuleUnits(config, log)


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
