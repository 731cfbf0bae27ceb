"""The ``labeled_examples`` table: one strategy's examples per (day, client), replaced whole;
a window of it loaded for training in process, or exported as Parquet part files for training on
a Dask cluster.

Replacing a whole partition keeps re-runs idempotent; the statements are in ``sql/training/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.core.files import staged_directory, write_parquet
from pixie_assets.core.sql import bind, render_sql
from pixie_assets.core.warehouse import reader, table_exists

TABLE = "labeled_examples"
STAGED = "_new_examples"  # the examples being stored, registered with the connection


def examples_sql(name: str, **fragments: str) -> str:
    """``sql/training/<name>.sql`` with the table names (and ``fragments``) filled in."""
    return render_sql(f"training/{name}", table=TABLE, staged=STAGED, **fragments)


def with_strategy(examples: pa.Table, strategy: str) -> pa.Table:
    return examples.append_column("strategy", pa.array([strategy] * examples.num_rows, pa.string()))


def store_examples(
    con: duckdb.DuckDBPyConnection, examples: pa.Table, day: date, client: str, strategy: str
) -> None:
    """Replace the (day, client) partition in one transaction: re-runs are idempotent and a
    failure leaves the previous examples."""
    con.register(STAGED, with_strategy(examples, strategy))
    delete = examples_sql("delete_examples_partition")
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(examples_sql("create_examples"))
        con.execute(delete, bind(delete, {"day": day, "client": client}))
        con.execute(examples_sql("insert_examples"))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(STAGED)


def load_examples(duckdb_path: Path, client: str, days: list[date]) -> pd.DataFrame:
    """Examples of ``client`` on ``days`` (those that exist), ordered for reproducibility."""
    select = examples_sql("select_examples")
    with reader(duckdb_path) as con:
        if not table_exists(con, TABLE):
            return pd.DataFrame()
        return con.sql(select, params=bind(select, {"client": client, "days": days})).df()


# --- the Parquet export read by distributed training --------------------------------------------

# Most rows of a part file: a day is cut into the fewest parts of at most this size (give or take
# a request), all of about the same size. Fixed by the data, not by the cluster, so the files are
# the same whichever cluster reads them; a few MB of Parquet, so a demo day spreads over a few
# workers while a task is not mostly overhead.
EXPORT_PART_ROWS = 100_000
EXPORT_BATCH_ROWS = 65_536  # rows fetched from DuckDB at a time: memory stays about one part
EXPORT_FOLDER = Path("exports") / "examples"  # under $PIXIE_HOME, which every worker sees


@dataclass(frozen=True)
class ExportedDay:
    """One day of one client's export: its folder, part files (in order) and label counts."""

    day: date
    folder: Path
    files: tuple[Path, ...]
    rows: int
    positives: int  # label > 0


@dataclass(frozen=True)
class ExamplesExport:
    """A window of one client's examples as Parquet part files, one folder per day, oldest
    first; days without examples have an empty folder."""

    client: str
    days: tuple[ExportedDay, ...]

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.days)

    @property
    def positives(self) -> int:
        return sum(d.positives for d in self.days)

    def days_with_rows(self) -> list[ExportedDay]:
        return [d for d in self.days if d.rows]


def export_day_dir(root: Path, client: str, day: date) -> Path:
    """``<root>/client=C/day=D``: the part files of one (client, day)."""
    return root / f"client={client}" / f"day={day.isoformat()}"


def export_examples(
    duckdb_path: Path,
    root: Path,
    client: str,
    days: list[date],
    columns: Sequence[str],
    part_rows: int = EXPORT_PART_ROWS,
) -> ExamplesExport:
    """Write the ``columns`` of ``client``'s examples of ``days``, and ``qid``, as
    ``<root>/client=C/day=D/part-NNNNN.parquet`` for Dask workers to read; return what was
    written. Only the columns training reads: the files are smaller, and a reader takes every
    column of them (see ``fit_dask``).

    Every day's folder is staged and swapped in only when the whole window is written, so a
    failure leaves the previous export, and a re-run replaces it (``qid`` numbers the window's
    requests, so the files of a day depend on the window they were exported with). Rows stream
    from DuckDB in batches: this process holds about one part at a time, never the window."""
    sql = examples_sql("export_examples", columns=", ".join(f'e."{c}"' for c in columns))
    params = bind(sql, {"client": client, "days": days, "part_rows": part_rows})
    written = {day: _DayTally() for day in days}
    with reader(duckdb_path) as con, ExitStack() as stack:
        staging = {
            day: stack.enter_context(staged_directory(export_day_dir(root, client, day)))
            for day in days
        }
        if table_exists(con, TABLE):
            batches = con.sql(sql, params=params).to_arrow_reader(EXPORT_BATCH_ROWS)
            for (day, part), table in _parts(batches):
                name = f"part-{part:05d}.parquet"
                write_parquet(table, staging[day] / name)
                written[day].add(name, table.column("label").to_numpy())
    return ExamplesExport(
        client, tuple(written[day].exported(export_day_dir(root, client, day), day) for day in days)
    )


@dataclass
class _DayTally:
    """What has been written of a day: part names and label counts."""

    names: list[str] = field(default_factory=list)
    rows: int = 0
    positives: int = 0

    def add(self, name: str, labels: np.ndarray) -> None:
        self.names.append(name)
        self.rows += len(labels)
        self.positives += int((labels > 0).sum())

    def exported(self, folder: Path, day: date) -> ExportedDay:
        files = tuple(folder / name for name in self.names)
        return ExportedDay(day, folder, files, self.rows, self.positives)


def _parts(batches: pa.RecordBatchReader) -> Iterator[tuple[tuple[date, int], pa.Table]]:
    """The stream cut into its (day, part) runs, each as one table; the stream is ordered, so a
    run ends where the next begins."""
    pending: list[pa.RecordBatch] = []
    current: tuple[date, int] | None = None
    for batch in batches:
        for key, piece in _runs(batch):
            if current is not None and key != current:
                yield current, _part_table(pending)
                pending = []
            current = key
            pending.append(piece)
    if current is not None:
        yield current, _part_table(pending)


def _runs(batch: pa.RecordBatch) -> Iterator[tuple[tuple[date, int], pa.RecordBatch]]:
    """Consecutive rows of a batch with the same (day, part)."""
    days = batch.column("day").to_numpy(zero_copy_only=False)
    parts = batch.column("part").to_numpy(zero_copy_only=False)
    cuts = np.flatnonzero((days[1:] != days[:-1]) | (parts[1:] != parts[:-1])) + 1
    bounds = [0, *cuts.tolist(), batch.num_rows]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop > start:
            key = (batch.column("day")[start].as_py(), int(parts[start]))
            yield key, batch.slice(start, stop - start)


def _part_table(batches: list[pa.RecordBatch]) -> pa.Table:
    """The rows of one part file (its folder and name say its day and part), with decimals as
    doubles: the label SQL's literals make DECIMAL labels, which ``load_examples`` (DuckDB's
    ``.df()``) reads as floats, and so must every reader of the export."""
    table = pa.Table.from_batches(batches).drop_columns(["day", "part"])
    schema = pa.schema(
        [
            field.with_type(pa.float64()) if pa.types.is_decimal(field.type) else field
            for field in table.schema
        ]
    )
    return table.cast(schema)
