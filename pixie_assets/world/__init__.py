"""The embedded synthetic Pinterest world (pure domain code: no Dagster here)."""

from pixie_assets.world.generator import World, generate_world
from pixie_assets.world.spec import CLIENT_NAMES, LOCALES, SCALES, TOPICS, WorldScale, scale_named
from pixie_assets.world.store import write_world
from pixie_assets.world.truth import WorldTruth

__all__ = [
    "CLIENT_NAMES",
    "LOCALES",
    "SCALES",
    "TOPICS",
    "World",
    "WorldScale",
    "WorldTruth",
    "generate_world",
    "scale_named",
    "write_world",
]
