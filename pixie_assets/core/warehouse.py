"""Connections to ``pixie.duckdb``. DuckDB lets one process write a file, or several read it,
never both at once. Writers run in the ``duckdb`` pool (limit 1) and keep connections short;
every connection, writer or reader, waits (boundedly) while another process holds the file."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

READ_WAIT_SECONDS = 120.0


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text or "conflicting" in text


def connect_when_free(
    open_connection: Callable[[], duckdb.DuckDBPyConnection], wait_seconds: float
) -> duckdb.DuckDBPyConnection:
    """Retry with jittered exponential backoff while another process holds the file."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return open_connection()
        except duckdb.Error as error:
            if not _is_lock_conflict(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)


def _require(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: ingest serving logs first")


@contextmanager
def writer(
    path: Path, wait_seconds: float = READ_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection; waits while a reader in another process holds the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect_when_free(lambda: duckdb.connect(str(path)), wait_seconds)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def reader(
    path: Path, wait_seconds: float = READ_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse."""
    _require(path)
    con = connect_when_free(lambda: duckdb.connect(str(path), read_only=True), wait_seconds)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def scratch_reader(
    path: Path, wait_seconds: float = READ_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory database with the warehouse attached read-only as the default catalog:
    reads see the warehouse, temporary tables stay in memory, nothing is written to the file."""
    _require(path)
    con = duckdb.connect()

    def attach() -> duckdb.DuckDBPyConnection:
        con.execute("ATTACH $path AS warehouse (READ_ONLY)", {"path": str(path)})
        return con

    try:
        connect_when_free(attach, wait_seconds)
        con.execute("USE warehouse")
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $table",
        params={"table": table},
    ).fetchall()
    return bool(found[0][0])
