"""The landing folder: where an online service (or world mode's simulator) drops its files.

Layout (DESIGN §3): ``landing/<table>/day=YYYY-MM-DD/client=<c>/*.parquet``. A partition is
rewritten whole: every table is staged first and swapped in only when all are written.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa

from pixie_assets.core.files import staged_directory, write_parquet


def partition_dir(landing_dir: Path, table: str, day: str, client: str) -> Path:
    return landing_dir / table / f"day={day}" / f"client={client}"


def write_partition(landing_dir: Path, day: str, client: str, tables: dict[str, pa.Table]) -> None:
    """Every table staged first; the folders are swapped in only when all are written."""
    with ExitStack() as stack:
        for table, data in tables.items():
            folder = stack.enter_context(
                staged_directory(partition_dir(landing_dir, table, day, client))
            )
            write_parquet(data, folder / "part-0.parquet")


def complete_partitions(landing_dir: Path) -> dict[tuple[str, str], float]:
    """(day, client) partitions whose serving_log and impressions folders both hold Parquet
    files, with the newest modification time among them (a change marker)."""
    found: dict[tuple[str, str], list[float]] = {}
    for table in ("serving_log", "impressions"):
        for path in (landing_dir / table).glob("day=*/client=*/*.parquet"):
            day = path.parent.parent.name.removeprefix("day=")
            client = path.parent.name.removeprefix("client=")
            found.setdefault((day, client), [0.0, 0.0])
            slot = 0 if table == "serving_log" else 1
            found[(day, client)][slot] = max(found[(day, client)][slot], path.stat().st_mtime)
    return {key: max(times) for key, times in found.items() if min(times) > 0}
