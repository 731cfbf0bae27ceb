"""Dagster resources: thin, configurable handles on the project's settings and services."""

from __future__ import annotations

from datetime import date

import dagster as dg

from pixie_assets.core.settings import Settings


class PixieSettings(dg.ConfigurableResource):
    """The project's settings as a resource, so a run (or a test) can point at another
    ``PIXIE_HOME`` or world without touching the environment of the code location."""

    home: str
    world_scale: str = "demo"
    world_seed: int = 7
    start_day: str = "2026-11-01"
    source: str = "world"
    landing: str = ""  # PIXIE_LANDING; empty: $PIXIE_HOME/landing

    @classmethod
    def from_settings(cls, settings: Settings) -> PixieSettings:
        return cls(
            home=str(settings.home),
            world_scale=settings.world_scale,
            world_seed=settings.world_seed,
            start_day=settings.start_day.isoformat(),
            source=settings.source,
            landing=str(settings.landing or ""),
        )

    def resolved(self) -> Settings:
        return Settings(
            home=self.home,
            world_scale=self.world_scale,
            world_seed=self.world_seed,
            start_day=date.fromisoformat(self.start_day),
            source=self.source,
            landing=self.landing or None,
        )
