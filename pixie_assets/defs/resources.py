"""Dagster resources: thin, configurable handles on the project's settings and services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import dagster as dg

from pixie_assets.core.settings import Settings
from pixie_assets.distributed import ShardRunner, open_runner


class PixieSettings(dg.ConfigurableResource):
    """The project's settings as a resource, so a run (or a test) can point at another
    ``PIXIE_HOME`` or world without touching the environment of the code location."""

    home: str
    world_scale: str = "demo"
    world_seed: int = 7
    start_day: str = "2026-11-01"
    source: str = "world"
    landing: str = ""  # PIXIE_LANDING; empty: $PIXIE_HOME/landing
    dask: str = ""  # PIXIE_DASK; empty: shards run in the step's process

    @classmethod
    def from_settings(cls, settings: Settings) -> PixieSettings:
        return cls(
            home=str(settings.home),
            world_scale=settings.world_scale,
            world_seed=settings.world_seed,
            start_day=settings.start_day.isoformat(),
            source=settings.source,
            landing=str(settings.landing or ""),
            dask=settings.dask,
        )

    def resolved(self) -> Settings:
        return Settings(
            home=self.home,
            world_scale=self.world_scale,
            world_seed=self.world_seed,
            start_day=date.fromisoformat(self.start_day),
            source=self.source,
            landing=self.landing or None,
            dask=self.dask,
        )

    @contextmanager
    def shard_runner(self) -> Iterator[ShardRunner]:
        """Where this step's shards run (``PIXIE_DASK``): in process, or on a Dask cluster that
        a ``local:N`` setting starts here and closes when the block ends."""
        with open_runner(self.resolved().dask_spec) as runner:
            yield runner
