"""A writer waits while another process reads the warehouse, instead of failing at once (the
three clients of a day read and write pixie.duckdb from separate processes)."""

from __future__ import annotations

import subprocess
import sys
import threading

import duckdb

from pixie_assets.core.warehouse import writer

HOLD_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def test_writer_waits_for_a_reader_in_another_process(tmp_path):
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
    done = threading.Event()

    def write() -> None:
        with writer(path, wait_seconds=60) as con:
            con.execute("INSERT INTO t VALUES (1)")
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not done.is_set()
    reader.communicate("release\n", timeout=30)  # the reader closes and exits
    thread.join(timeout=60)
    assert done.is_set()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM t").fetchall() == [(1,)]
