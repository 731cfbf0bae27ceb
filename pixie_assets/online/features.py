"""Featurizing online: the feature SQL over only the context rows a batch's candidates can join.

``FeatureContext.featurize`` joins a batch's candidates to the day's whole context tables, so a
query scans every pin of the catalog: 200k pins cost a few milliseconds a query, ten million
would cost tens. The feature SQL joins context rows to a candidate on its ``pin_id`` or its
``user_id``, so the rows that share neither with any candidate of the batch cannot reach the
result. ``KeyedContext`` keeps each context table the SQL reads sorted by that key, and per batch
hands DuckDB only the rows of the batch's keys (binary search, no scan): the same SQL on the same
rows, at a cost that follows the batch, not the catalog.

That the SQL only joins on those keys is a property of the SQL, not of this module, so it is
checked when a context is built (``check_agrees``): eight probe batches of a request's size are
featurized both ways and must come out equal to the bit; a spec that reads across rows (a count
over all pins, a rank among them) fails the check and is served from the whole context instead.
Handing DuckDB a batch's rows costs a registration per table, more than scanning a small
catalog, so ``OnlineFeatures`` keys only contexts of ``KEYED_FROM_ROWS`` rows or more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.serving.featurize import FeatureContext, run_feature_sql


class Featurizer(Protocol):
    """What a scoring thread featurizes with: its own connection, closed when it ends."""

    def featurize(self, candidates: pa.Table | pd.DataFrame) -> pa.Table: ...

    def close(self) -> None: ...


# Below this many rows in its largest table, scanning the whole context costs less than handing
# DuckDB the batch's rows (one registration per table): benchmarks/online_features.py measured
# the keyed query 2 ms slower at 20k and 80k pins, 1.1 ms faster at 200k, 2.3x faster at 1M.
KEYED_FROM_ROWS = 150_000
# The candidate columns a context table can be keyed by, in order of preference.
KEYS = ("pin_id", "user_id")
# The load-time agreement check: batches of a request's size, so that each one's keys are a
# small part of the catalog (a batch holding every pin would agree with anything).
PROBE_BATCHES = 8
PROBE_ROWS = 200


def tables_read(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The context tables the feature SQL reads (all but the candidates), sorted."""
    return sorted(con.get_table_names(sql) - {"candidates"})


@dataclass(frozen=True)
class _KeyedTable:
    """A context table sorted by its key, for the rows of a set of keys without a scan."""

    key: str
    keys: np.ndarray
    rows: pa.Table

    @classmethod
    def sorted_by(cls, table: pa.Table, key: str) -> _KeyedTable:
        table = table.sort_by(key)
        return cls(key, table[key].to_numpy(), table)

    def rows_of(self, wanted: np.ndarray) -> pa.Table:
        """Every row whose key is in ``wanted`` (sorted, unique), in key order."""
        first = np.searchsorted(self.keys, wanted, "left")
        counts = np.searchsorted(self.keys, wanted, "right") - first
        total = int(counts.sum())
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.rows.take(np.repeat(first, counts) + offsets)


class KeyedContext:
    """A ``FeatureContext``'s tables as the feature SQL reads them, keyed; immutable and shared
    by the threads that featurize with it (``connect`` gives each its own connection)."""

    def __init__(self, context: FeatureContext) -> None:
        self.spec = context.spec
        con = context.con.cursor()
        try:
            read = tables_read(con, self.spec.features_sql)
            self.keyed: dict[str, _KeyedTable] = {}
            self.whole: dict[str, pa.Table] = {}
            for name in read:
                table = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
                key = next((k for k in KEYS if k in table.column_names), None)
                if key is None:
                    self.whole[name] = table
                else:
                    self.keyed[name] = _KeyedTable.sorted_by(table, key)
        finally:
            con.close()

    def connect(self, threads: int = 1) -> KeyedFeaturizer:
        return KeyedFeaturizer(self, threads)


class KeyedFeaturizer:
    """One thread's connection over a ``KeyedContext``: ``featurize`` as
    ``FeatureContext.featurize`` does, on the rows of the batch's keys."""

    def __init__(self, keyed: KeyedContext, threads: int = 1) -> None:
        self.keyed = keyed
        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {int(threads)}")
        for name, table in keyed.whole.items():
            self.con.register(name, table)

    def featurize(self, candidates: pa.Table | pd.DataFrame) -> pa.Table:
        if isinstance(candidates, pd.DataFrame):
            candidates = pa.Table.from_pandas(candidates, preserve_index=False)
        for name, table in self.keyed.keyed.items():
            wanted = np.unique(candidates[table.key].to_numpy())
            self.con.register(name, table.rows_of(wanted))
        return run_feature_sql(self.con, self.keyed.spec, candidates)

    def close(self) -> None:
        self.con.close()


def largest_table_rows(context: FeatureContext) -> int:
    """Rows of the largest context table the feature SQL reads."""
    con = context.con.cursor()
    try:
        read = tables_read(con, context.spec.features_sql)
        return max(
            (con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0] for name in read),
            default=0,
        )
    finally:
        con.close()


def probe_candidates(
    context: FeatureContext, day: date, rows: int = PROBE_ROWS, seed: int = 0
) -> pa.Table:
    """Candidates to check a keyed context against its whole one: users and pins drawn from the
    context's own tables (unknown ids too), graph features drawn at random, at noon of ``day``."""
    rng = np.random.default_rng(seed)
    con = context.con.cursor()
    try:
        users = con.sql("SELECT user_id FROM users").fetchnumpy()["user_id"]
        pins = con.sql("SELECT pin_id FROM pins").fetchnumpy()["pin_id"]
    finally:
        con.close()
    user_ids = np.append(users, -1)[rng.integers(0, len(users) + 1, rows)]
    pin_ids = np.append(pins, -1)[rng.integers(0, len(pins) + 1, rows)]
    return pa.table(
        {
            "request_id": pa.array((user_ids % 97).astype(str)),
            "user_id": pa.array(user_ids, pa.int64()),
            "ts": pa.array(np.full(rows, np.datetime64(datetime.combine(day, time(12)), "us"))),
            "pin_id": pa.array(pin_ids, pa.int64()),
            "visit_count": rng.random(rows) * 100,
            "visit_rank": rng.integers(1, 1000, rows),
            "query_hits": rng.integers(1, 10, rows),
            "pin_degree": rng.integers(1, 500, rows),
        }
    )


def check_agrees(
    keyed: KeyedContext, context: FeatureContext, probes: list[pa.Table]
) -> str | None:
    """None when the keyed context featurizes every probe batch exactly as the whole context
    does, else why not (the keyed path must then not be used)."""
    featurizer = keyed.connect()
    con = context.con.cursor()
    try:
        for probe in probes:
            try:
                mine = featurizer.featurize(probe)
            except duckdb.Error as error:
                return f"the feature SQL fails on the keyed rows: {error}"
            whole = context.featurize(probe, con)
            differ = [name for name in whole.column_names if not mine[name].equals(whole[name])]
            if differ:
                return (f"feature(s) {', '.join(differ)} differ on the keyed rows of a probe "
                        f"batch of {probe.num_rows} candidates")  # fmt: skip
    finally:
        featurizer.close()
        con.close()
    return None


def probe_batches(context: FeatureContext, day: date) -> list[pa.Table]:
    return [probe_candidates(context, day, seed=seed) for seed in range(PROBE_BATCHES)]


class WholeContextFeaturizer:
    """``FeatureContext.featurize`` on a cursor of its own: the whole context tables."""

    def __init__(self, context: FeatureContext) -> None:
        self.context = context
        self.con = context.con.cursor()

    def featurize(self, candidates: pa.Table | pd.DataFrame) -> pa.Table:
        return self.context.featurize(candidates, self.con)

    def close(self) -> None:
        self.con.close()


class OnlineFeatures:
    """What a day's scoring threads featurize with, for the clients whose models share a
    feature spec. It owns ``context``. A context whose largest table read by the feature SQL
    holds ``keyed_from_rows`` rows or more is served keyed when the probe batches agree to the
    bit (``check_agrees``), and the whole DuckDB context is then closed at once, so the day's
    context is held once in memory; otherwise the whole context serves (a failed probe is
    logged) and is closed with this."""

    def __init__(
        self,
        context: FeatureContext,
        day: date,
        log: Callable[[str], None] = lambda m: None,
        keyed_from_rows: int = KEYED_FROM_ROWS,
    ) -> None:
        self.keyed: KeyedContext | None = None
        self.context: FeatureContext | None = context
        if largest_table_rows(context) < keyed_from_rows:
            return
        keyed = KeyedContext(context)
        problem = check_agrees(keyed, context, probe_batches(context, day))
        if problem is not None:
            log(f"features of {day} served from the whole context tables: {problem}")
            return
        self.keyed, self.context = keyed, None
        context.close()

    @property
    def mode(self) -> str:
        """What /readyz shows: "keyed" (the batch's rows) or "whole" (the whole tables)."""
        return "keyed" if self.keyed is not None else "whole"

    def connect(self) -> Featurizer:
        """A featurizer with a connection of its own, for one scoring thread."""
        if self.keyed is not None:
            return self.keyed.connect()
        return WholeContextFeaturizer(self.context)

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
