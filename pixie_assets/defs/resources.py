"""Dagster resources: thin, configurable handles on the project's settings and services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date

import dagster as dg
from pydantic import PrivateAttr

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

    # The run's cluster: opened by the first step that asks, closed when the run's execution
    # ends (per step process under the multiprocess executor).
    _in_execution: bool = PrivateAttr(default=False)
    _runner: ShardRunner | None = PrivateAttr(default=None)
    _runner_stack: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._in_execution = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._runner_stack is not None:
            self._runner_stack.close()
        self._runner, self._runner_stack = None, None

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
        """Where this step's shards run (``PIXIE_DASK``): in process, or on a Dask cluster.
        In a run, the cluster of a ``local:N`` setting is started by the first step that asks
        and kept for the others (a start costs seconds), and closed when the run ends; outside
        a run (a script, a test) it lives as long as the block."""
        if not self._in_execution:
            with open_runner(self.resolved().dask_spec) as runner:
                yield runner
            return
        if self._runner is None:
            stack = ExitStack()
            self._runner = stack.enter_context(open_runner(self.resolved().dask_spec))
            self._runner_stack = stack
        yield self._runner
