"""A writer waits while another process reads the warehouse, instead of failing at once (the
three clients of a day read and write pixie.duckdb from separate processes)."""

from __future__ import annotations

import subprocess
import sys
import threading

import duckdb

from pixie_assets.core import warehouse
from pixie_assets.core.warehouse import writer

HOLD_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def _signal_lock_conflicts(monkeypatch) -> threading.Event:
    """An event set once a connection attempt has met another process's lock and will retry."""
    met_lock = threading.Event()
    is_lock_conflict = warehouse._is_lock_conflict

    def recording(error: duckdb.Error) -> bool:
        conflict = is_lock_conflict(error)
        if conflict:
            met_lock.set()
        return conflict

    monkeypatch.setattr(warehouse, "_is_lock_conflict", recording)
    return met_lock


def test_writer_waits_for_a_reader_in_another_process(tmp_path, monkeypatch):
    path = tmp_path / "pixie.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_READER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "holding"
    try:  # the file is locked by the reader: a plain connection fails
        duckdb.connect(str(path)).close()
        raise AssertionError("expected a lock conflict")
    except duckdb.IOException:
        pass
    met_lock = _signal_lock_conflicts(monkeypatch)
    done = threading.Event()

    def write() -> None:
        with writer(path, wait_seconds=60) as con:
            con.execute("INSERT INTO t VALUES (1)")
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert met_lock.wait(timeout=60)  # the writer has tried, met the reader's lock, and waits
    assert not done.is_set()
    reader.communicate("release\n", timeout=30)  # the reader closes and exits
    thread.join(timeout=60)
    assert done.is_set()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM t").fetchall() == [(1,)]
