"""Serving-stage logging into the landing folder, off the request path.

A request hands its rows to ``LandingLog.offer``, which never blocks: the rows join a bounded
queue, or, when the queue is full, are dropped and counted (the service sheds logging, never
requests). One writer thread drains the queue into Parquet micro-batches, one file per (table,
day, client) every ``flush_rows`` rows or ``flush_seconds``, each written under a hidden name and
renamed into ``landing/<table>/day=D/client=C/`` (the landing listing skips hidden files, so a
reader never sees half a file). ``close_day`` flushes what is left of a day and writes each of its
folders' ``_SUCCESS``: the convention the landing sensor waits for.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.landing.layout import SUCCESS_MARKER, is_complete, mark_complete, partition_dir
from pixie_assets.landing.schema import SCHEMAS

LOGGED_TABLES = ("serving_log", "impressions", "engagements")
# The names ``write_micro_batch`` gives: how a folder tells it holds this log's files.
MICRO_BATCH_NAME = re.compile(r"part-\d{20}-[0-9a-f]{8}\.parquet")
# Tables whose folder a closed day always gets (the sensor waits for both); engagements only
# when some were reported.
ALWAYS_CLOSED = ("serving_log", "impressions")


@dataclass
class LogCounters:
    rows: Counter = field(default_factory=Counter)  # written, by table
    shed: Counter = field(default_factory=Counter)  # dropped on a full queue, by table
    failed: Counter = field(default_factory=Counter)  # could not be written, by table
    files: int = 0


@dataclass(frozen=True)
class _Rows:
    table: str
    day: str
    client: str
    data: pa.Table


@dataclass(frozen=True)
class _Close:
    day: str
    clients: tuple[str, ...]
    done: threading.Event


class LandingLog:
    def __init__(
        self,
        landing_dir: Path,
        max_queue: int = 10_000,
        flush_rows: int = 50_000,
        flush_seconds: float = 5.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.landing_dir = Path(landing_dir)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.counters = LogCounters()
        self._queue: queue.Queue = queue.Queue(max_queue)
        self._buffers: dict[tuple[str, str, str], list[pa.Table]] = defaultdict(list)
        self._oldest: dict[tuple[str, str, str], float] = {}
        self._on_error = on_error or (lambda error: None)
        self._stopped = threading.Event()
        self._gate = threading.Lock()  # held by the writer per item; ``writing_paused`` holds it
        self._thread = threading.Thread(target=self._run, name="landing-log", daemon=True)
        self._thread.start()

    # --- the request side: never blocks --------------------------------------------------------

    def offer(self, table: str, day: str, client: str, data: pa.Table) -> bool:
        """Queue rows for writing; False (and counted as shed) when the queue is full."""
        if table not in LOGGED_TABLES:
            raise ValueError(f"{table} is not logged by the service ({', '.join(LOGGED_TABLES)})")
        try:
            self._queue.put_nowait(_Rows(table, day, client, data))
            return True
        except queue.Full:
            self.counters.shed[table] += data.num_rows
            return False

    def close_day(self, day: str, clients: tuple[str, ...], timeout: float = 60.0) -> None:
        """Write everything queued for ``day`` and mark each of its folders complete. Waits for
        the writer (a day closes once, off the request path)."""
        done = threading.Event()
        self._queue.put(_Close(day, tuple(clients), done), timeout=timeout)
        if not done.wait(timeout):
            raise TimeoutError(f"the landing log did not close {day} within {timeout:.0f}s")

    def open_days_before(self, day: str, clients: tuple[str, ...]) -> list[str]:
        """Days before ``day`` with a folder of ``clients`` that holds this log's micro-batches
        but no ``_SUCCESS``: left open by a service stopped before it could close them (the
        day's graph swap happened while it was down). Nothing more will be served on them."""
        found = set()
        for table in LOGGED_TABLES:
            for folder in (self.landing_dir / table).glob("day=*/client=*"):
                served_on = folder.parent.name.removeprefix("day=")
                client = folder.name.removeprefix("client=")
                if served_on >= day or client not in clients or is_complete(folder):
                    continue
                if any(MICRO_BATCH_NAME.fullmatch(f.name) for f in folder.iterdir()):
                    found.add(served_on)
        return sorted(found)

    def flush(self, timeout: float = 60.0) -> None:
        """Write every buffered row now (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(_Close("", (), done), timeout=timeout)
        if not done.wait(timeout):
            raise TimeoutError(f"the landing log did not flush within {timeout:.0f}s")

    @contextmanager
    def writing_paused(self) -> Iterator[None]:
        """Hold the writer between items (what a slow disk does): rows queue, then shed."""
        with self._gate:
            yield

    def stop(self) -> None:
        """Write what is buffered and end the writer; a second call does nothing."""
        if self._stopped.is_set():
            return
        self.flush()
        self._stopped.set()
        # wake the writer now rather than at its next poll; a full queue means it has work in
        # hand and sees the flag after it
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=30)

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                item = self._queue.get(timeout=min(1.0, self.flush_seconds))
            except queue.Empty:
                item = None
            try:
                with self._gate:
                    self._handle(item)
            except BaseException as error:  # a bad disk must not kill the writer silently
                self._on_error(error)
                if isinstance(item, _Close):
                    item.done.set()

    def _handle(self, item: _Rows | _Close | None) -> None:
        if isinstance(item, _Rows):
            self._buffer(item)
        elif isinstance(item, _Close):
            self._write_all(day=item.day or None)
            if item.day:
                self._mark_day(item.day, item.clients)
            item.done.set()
        self._write_due()

    def _buffer(self, rows: _Rows) -> None:
        key = (rows.table, rows.day, rows.client)
        self._buffers[key].append(rows.data)
        self._oldest.setdefault(key, time.monotonic())
        if sum(t.num_rows for t in self._buffers[key]) >= self.flush_rows:
            self._write(key)

    def _write_due(self) -> None:
        now = time.monotonic()
        for key, since in list(self._oldest.items()):
            if now - since >= self.flush_seconds:
                self._write(key)

    def _write_all(self, day: str | None) -> None:
        for key in list(self._buffers):
            if day is None or key[1] == day:
                self._write(key)

    def _write(self, key: tuple[str, str, str]) -> None:
        """One micro-batch of ``key``'s buffered rows. A batch that cannot be written is
        reported (table, day, client and why) and counted, and the others are still written."""
        tables = self._buffers.pop(key, [])
        self._oldest.pop(key, None)
        if not tables:
            return
        table, day, client = key
        rows = sum(t.num_rows for t in tables)
        try:
            schema = SCHEMAS[table]
            data = pa.concat_tables(tables).select(schema.names).cast(schema)
            folder = partition_dir(self.landing_dir, table, day, client)
            closed = is_complete(folder)
            if closed:  # late rows of a closed day: withdraw the marker while the file is written
                (folder / SUCCESS_MARKER).unlink()
            write_micro_batch(folder, data)
            if closed:
                mark_complete(folder)
        except Exception as error:  # noqa: BLE001 — one bad batch must not stop the others
            self.counters.failed[table] += rows
            self._on_error(RuntimeError(f"{table} day={day} client={client}: {rows} rows not "
                                        f"logged: {error}"))  # fmt: skip
            return
        self.counters.rows[table] += rows
        self.counters.files += 1

    def _mark_day(self, day: str, clients: tuple[str, ...]) -> None:
        for client in clients:
            for table in LOGGED_TABLES:
                folder = partition_dir(self.landing_dir, table, day, client)
                if table not in ALWAYS_CLOSED and not folder.is_dir():
                    continue
                if not (folder.is_dir() and any(folder.glob("part-*.parquet"))):
                    write_micro_batch(folder, SCHEMAS[table].empty_table())
                if not is_complete(folder):
                    mark_complete(folder)


def write_micro_batch(folder: Path, data: pa.Table) -> Path:
    """One Parquet file in ``folder``, written under a hidden name and renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    hidden = folder / f".{name}.tmp"
    pq.write_table(data, hidden)
    os.replace(hidden, folder / name)
    return folder / name
