"""Where the world's files live, and writing them atomically (see ``pixie_assets.core.files``)
so a failed write leaves the previous world."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pyarrow.compute as pc

from pixie_assets.core import files
from pixie_assets.core.files import staged_directory
from pixie_assets.landing import write_landing_table
from pixie_assets.world.generator import World


def table_path(world_dir: Path, name: str) -> Path:
    return world_dir / f"{name}.parquet"


def write_world(world: World, world_dir: Path, truth_dir: Path) -> dict[str, Path]:
    """Write the contract tables to ``world_dir`` and the hidden truth to ``truth_dir``; both
    replace the previous world only once everything is written."""
    with ExitStack() as stack:
        staged_world = stack.enter_context(staged_directory(world_dir))
        staged_truth = stack.enter_context(staged_directory(truth_dir))
        for name, table in world.tables.items():
            # looked up at call time so tests can make the write fail
            files.write_parquet(table, table_path(staged_world, name))
        world.truth.save(staged_truth)
    return {name: table_path(world_dir, name) for name in world.tables}


def write_world_landing(world: World, landing: Path) -> None:
    """The world's contract tables as a landing folder (landing and replay mode), as a user's
    exports would be: users, pins and boards flat; saves by day; engagements by day and client.
    The truth is not written: a landing folder holds only what a real service would log."""
    for name in ("users", "pins", "boards", "saves"):
        write_landing_table(landing, name, world.tables[name])
    engagements = world.tables["engagements"]
    for client in sorted(set(engagements["client"].to_pylist())):
        rows = engagements.filter(pc.equal(engagements["client"], client))
        write_landing_table(landing, "engagements", rows, client=client)
