"""The project's one ``Definitions``: every asset, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from pixie_assets.assets.world import world
from pixie_assets.jobs import world_job
from pixie_assets.resources import PixieSettings
from pixie_assets.settings import get_settings

defs = dg.Definitions(
    assets=[world],
    jobs=[world_job],
    resources={"pixie": PixieSettings.from_settings(get_settings())},
)
