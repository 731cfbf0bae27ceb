"""Connections to ``pixie.duckdb``. DuckDB allows one writing process per file, so writers run
in the ``duckdb`` pool (limit 1) and keep connections short; readers open read-only and wait
(boundedly) while a writer in another process holds the file."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

READ_WAIT_SECONDS = 120.0


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text or "conflicting" in text


@contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        yield con
    finally:
        con.close()


@contextmanager
def reader(
    path: Path, wait_seconds: float = READ_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; retries with jittered backoff while another process writes."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: ingest serving logs first")
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.Error as error:
            if not _is_lock_conflict(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $table",
        params={"table": table},
    ).fetchall()
    return bool(found[0][0])
