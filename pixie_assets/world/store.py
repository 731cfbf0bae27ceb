"""Reading and writing the world's files.

Writes go to a scratch folder that replaces the old one only once complete, so a failed
materialization leaves the previous world intact and readers never see half a world.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.contract import WORLD_TABLES
from pixie_assets.world.generator import World

ROW_GROUP_SIZE = 1 << 20


def table_path(world_dir: Path, name: str) -> Path:
    return world_dir / f"{name}.parquet"


def write_parquet(table: pa.Table, path: Path) -> None:
    """Deterministic Parquet: fixed compression and row groups, no pandas metadata, so the same
    table gives the same bytes."""
    pq.write_table(
        table,
        path,
        compression="zstd",
        row_group_size=ROW_GROUP_SIZE,
        write_statistics=True,
        store_schema=True,
    )


def replace_directory(staged: Path, final: Path) -> None:
    """Swap a fully written folder into place; the old one is removed only after the swap."""
    retired = final.with_name(final.name + ".old")
    if retired.exists():
        shutil.rmtree(retired)
    if final.exists():
        final.rename(retired)
    staged.rename(final)
    if retired.exists():
        shutil.rmtree(retired)


def write_world(world: World, world_dir: Path, truth_dir: Path) -> dict[str, Path]:
    """Write the contract tables to ``world_dir`` and the hidden truth to ``truth_dir``."""
    staged_world = world_dir.with_name(world_dir.name + ".staging")
    staged_truth = truth_dir.with_name(truth_dir.name + ".staging")
    for staged in (staged_world, staged_truth):
        if staged.exists():
            shutil.rmtree(staged)
        staged.mkdir(parents=True)
    for name, table in world.tables.items():
        write_parquet(table, table_path(staged_world, name))
    world.truth.save(staged_truth)
    replace_directory(staged_truth, truth_dir)
    replace_directory(staged_world, world_dir)
    return {name: table_path(world_dir, name) for name in world.tables}


def read_world_table(world_dir: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    if name not in WORLD_TABLES:
        raise ValueError(
            f"{name!r} is not a world table; expected one of {', '.join(WORLD_TABLES)}"
        )
    path = table_path(world_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: materialize the `world` asset first")
    return pq.read_table(path, columns=columns)
