"""Small hand-built landing partitions (tens of rows) and a snapshot of the DuckDB tables.

Every table is built in the exact contract schema; a test that wants a bad file starts from a good
one and breaks one thing, so the failure it expects is the only one present. Folders are written
as a finished writer leaves them: data files, then the ``_SUCCESS`` marker.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core import contract
from pixie_assets.landing import mark_complete, partition_dir

DAY = date(2026, 11, 1)
CLIENT = "homefeed"
CLIENTS = ("homefeed", "related_pins", "notifications")


def serving_log_table(
    day: date = DAY, client: str = CLIENT, requests: int = 3, candidates: int = 5, seed: int = 0
) -> pa.Table:
    """``requests`` × ``candidates`` rows, distinct pins within a request, ts inside ``day``."""
    rng = np.random.default_rng(seed)
    n = requests * candidates
    request = np.repeat(np.arange(requests), candidates)
    start = datetime.combine(day, datetime.min.time())
    columns: dict[str, list] = {
        "request_id": [f"{client}:{day}:{seed}:{r}" for r in request],
        "ts": [start + timedelta(hours=1 + int(r)) for r in request],
        "client": [client] * n,
        "user_id": [100 + int(r) for r in request],
        "pin_id": [
            1_000 * seed + 10 * int(r) + slot for r in range(requests) for slot in range(candidates)
        ],
        "model_version": ["v1"] * n,
        "sent_to_full_ranker": [slot < 3 for _ in range(requests) for slot in range(candidates)],
        "visit_rank": [slot + 1 for _ in range(requests) for slot in range(candidates)],
    }
    for field in contract.SERVING_LOG:
        if field.name in columns:
            continue
        if pa.types.is_floating(field.type):
            columns[field.name] = rng.random(n).round(6).tolist()
        else:
            columns[field.name] = rng.integers(0, 50, n).tolist()
    return pa.table(columns, schema=contract.SERVING_LOG)


def impressions_table(serving: pa.Table, shown: int = 2) -> pa.Table:
    """The first ``shown`` candidates of each request, as the full ranker would show them."""
    rows = serving.to_pylist()
    seen: dict[str, int] = {}
    picked = []
    for row in rows:
        position = seen.get(row["request_id"], 0)
        if position < shown:
            picked.append(
                {
                    "request_id": row["request_id"],
                    "pin_id": row["pin_id"],
                    "position": position,
                    "full_ranker_score": round(1.0 - 0.1 * position, 3),
                }
            )
            seen[row["request_id"]] = position + 1
    return pa.Table.from_pylist(picked, schema=contract.IMPRESSIONS)


def engagements_table(impressions: pa.Table, day: date = DAY, client: str = CLIENT) -> pa.Table:
    """One action per impression at position 0; the last one without a request_id (allowed)."""
    rows = [row for row in impressions.to_pylist() if row["position"] == 0]
    start = datetime.combine(day, datetime.min.time())
    actions = contract.ACTIONS
    engagements = [
        {
            "user_id": 100 + i,
            "pin_id": row["pin_id"],
            "action": actions[i % len(actions)],
            "client": client,
            "request_id": None if i == len(rows) - 1 else row["request_id"],
            "ts": start + timedelta(hours=2 + i, minutes=5),
        }
        for i, row in enumerate(rows)
    ]
    return pa.Table.from_pylist(engagements, schema=contract.ENGAGEMENTS)


def partition_tables(day: date = DAY, client: str = CLIENT, seed: int = 0) -> dict[str, pa.Table]:
    serving = serving_log_table(day, client, seed=seed)
    impressions = impressions_table(serving)
    return {
        "serving_log": serving,
        "impressions": impressions,
        "engagements": engagements_table(impressions, day, client),
    }


def write_file(
    landing: Path,
    table: str,
    data: pa.Table,
    day: date = DAY,
    client: str = CLIENT,
    name: str = "part-0.parquet",
    complete: bool = True,
) -> Path:
    """One file into the partition's folder of ``table``, then (``complete``) the folder's
    ``_SUCCESS`` marker, as a finished writer leaves it."""
    folder = partition_dir(landing, table, day, client)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(data, path)
    if complete:
        mark_complete(folder)
    return path


def write_partition(
    landing: Path, tables: Mapping[str, pa.Table], day: date = DAY, client: str = CLIENT
) -> dict[str, Path]:
    """Each table as one file, replacing whatever files the partition had, each folder marked
    complete."""
    paths = {}
    for table, data in tables.items():
        folder = partition_dir(landing, table, day, client)
        for old in folder.glob("*.parquet") if folder.exists() else []:
            old.unlink()
        paths[table] = write_file(landing, table, data, day, client)
    return paths


Snapshot = dict[str, list[tuple]]


def snapshot(db: Path) -> Snapshot:
    """Every table of the database with its rows sorted, read through a read-only connection as
    other readers would; {} if the database does not exist."""
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
