"""The embedded synthetic Pinterest world (pure domain code: no Dagster here)."""

from pixie_assets.world.generator import World, generate_world
from pixie_assets.world.spec import CLIENTS, LOCALES, SCALES, TOPICS, WorldScale, scale_named
from pixie_assets.world.store import read_world_table, write_world
from pixie_assets.world.truth import WorldTruth

__all__ = [
    "CLIENTS",
    "LOCALES",
    "SCALES",
    "TOPICS",
    "World",
    "WorldScale",
    "WorldTruth",
    "generate_world",
    "read_world_table",
    "scale_named",
    "write_world",
]
