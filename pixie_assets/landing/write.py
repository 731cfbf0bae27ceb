"""Writing data in the landing layout: a served partition (world mode's simulator standing in for
an online service) and whole tables (a CSV or warehouse export, a converted public dataset).

Every folder written is finished with an empty ``_SUCCESS`` marker after its data
(``layout.SUCCESS_MARKER``), the convention the landing sensor and ingestion rely on to tell a
finished partition from one still being written; these writers are the reference for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core.files import staged_directory, write_parquet
from pixie_assets.landing.layout import (
    DAILY_CLIENT,
    FLAT,
    LAYOUT,
    SUCCESS_MARKER,
    mark_complete,
    partition_dir,
)
from pixie_assets.landing.rules import TIME_COLUMN
from pixie_assets.landing.schema import SCHEMAS

_MICROS_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)
_SMALL_FILE_ROWS = 4096
_WRITERS = max(1, min(4, os.cpu_count() or 1))


@contextmanager
def staged_partition(
    landing_dir: Path, day: date | str, client: str, tables: Iterable[str]
) -> Iterator[dict[str, Path]]:
    """One empty staging folder per table of a (day, client) partition, to be filled with any
    number of part files, by this process or by workers that see the same filesystem (shards of
    a day's serving). When the block succeeds every folder gets its ``_SUCCESS`` marker and all
    are swapped in, so readers never see half a partition and each folder appears already
    marked complete; when it fails none is, and the partition stays as it was."""
    with ExitStack() as stack:
        folders = {
            table: stack.enter_context(
                staged_directory(partition_dir(landing_dir, table, day, client))
            )
            for table in tables
        }
        yield folders
        for folder in folders.values():
            mark_complete(folder)


def write_partition(
    landing_dir: Path, day: date | str, client: str, tables: dict[str, pa.Table]
) -> None:
    """One (day, client) partition, one file per table, written as ``staged_partition``
    stages and swaps a partition."""
    with staged_partition(landing_dir, day, client, tables) as folders:
        for table, data in tables.items():
            write_parquet(data, folders[table] / "part-0.parquet")


def _unmark(folder: str | Path) -> None:
    """Withdraw a folder's marker before adding to it: a reader must not take the folder for
    finished while a new file is half written (the marker returns once it is done)."""
    with suppress(FileNotFoundError):
        os.remove(os.path.join(folder, SUCCESS_MARKER))


def _split_by_day(
    data: pa.Table, time_column: str
) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray]:
    """``data`` in day order (one stable sort, skipped when already in order), and per day its
    number (days since 1970-01-01) and its rows as [start, end)."""
    days = data[time_column].cast(pa.int64()).to_numpy() // _MICROS_PER_DAY
    if len(days) and (np.diff(days) < 0).any():
        order = np.argsort(days, kind="stable")
        data, days = data.take(order), days[order]
    bounds = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64) if len(days) else bounds
    ends = np.concatenate([bounds, [len(days)]]).astype(np.int64) if len(days) else bounds
    return data, days[starts], starts, ends


def write_landing_table(
    root: Path, table: str, data: pa.Table, client: str | None = None, name: str = "part-0"
) -> list[Path]:
    """Write ``data`` in the contract layout: one file for users/pins/boards, one file per day
    of the event time for saves/engagements (inside ``client=<client>/`` when given), so a CSV
    or warehouse export becomes a landing folder in one call. Columns are cast to the contract
    schema first, so a wrong column fails here, not at read time. Each folder written ends with
    its ``_SUCCESS`` marker (withdrawn while a file is added to a folder that had one).

    Days come from one stable sort by event time and zero-copy slices, written a few files at a
    time: a long public log (MovieLens spans 20+ years) is thousands of day files, most of a few
    dozen rows, which are written uncompressed (compression would cost more than it saves)."""
    schema = SCHEMAS[table]
    data = data.select(schema.names).cast(schema)
    folder = root / table
    if LAYOUT[table] == FLAT:
        folder.mkdir(parents=True, exist_ok=True)
        _unmark(folder)
        path = folder / f"{name}.parquet"
        write_parquet(data, path)
        mark_complete(folder)
        return [path]
    if LAYOUT[table] == DAILY_CLIENT and client is None:
        raise ValueError(f"{table} is written per client: pass client=")
    time_column = TIME_COLUMN.get(table)
    if time_column is None:
        raise ValueError(f"{table} has no event time to split by; write it per day yourself")
    data, days, starts, ends = _split_by_day(data, time_column)
    inner = "" if client is None else f"{os.sep}client={client}"
    # plain strings, not Paths: thousands of folders, and pathlib's parsing would show
    folders = [
        os.path.join(folder, f"day={(_EPOCH + timedelta(days=int(day))).isoformat()}") + inner
        for day in days
    ]
    file_name = f"{name}.parquet"

    def write(chunk: range) -> None:
        for i in chunk:
            os.makedirs(folders[i], exist_ok=True)
            _unmark(folders[i])
            rows = data.slice(int(starts[i]), int(ends[i] - starts[i]))
            target = os.path.join(folders[i], file_name)
            if rows.num_rows < _SMALL_FILE_ROWS:
                pq.write_table(rows, target, compression="none", use_dictionary=False)
            else:
                write_parquet(rows, Path(target))
            mark_complete(folders[i])

    step = max(1, -(-len(folders) // (_WRITERS * 8)))
    chunks = [range(i, min(i + step, len(folders))) for i in range(0, len(folders), step)]
    with ThreadPoolExecutor(_WRITERS) as pool:
        for done in [pool.submit(write, chunk) for chunk in chunks]:
            done.result()
    return [Path(f, file_name) for f in folders]
