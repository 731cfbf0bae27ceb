"""Featurization: the SQL of ``sql/features.sql`` over candidates and a point-in-time context.

A model ships with the ``FeatureSpec`` it was trained with (docs/architecture.md §5), so the serving
path takes its SQL from the model it loads, never from the working tree. This module is copied into
every model version (MLflow ``code_paths``), so it imports nothing from this project: only duckdb,
numpy, pandas and pyarrow. ``pixie_assets.serving.scoring.repo_feature_spec`` reads the working
tree's spec, for clients without a model and for training new ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

TIMESTAMP = pa.timestamp("us")
CONTEXT_TABLES = ("pin_stats", "user_stats", "user_topic")
# How far back the context looks: the widest window any context query uses.
CONTEXT_LOOKBACK_DAYS = 28


@dataclass(frozen=True)
class FeatureSpec:
    features_sql: str
    context_sql: dict[str, str]
    feature_names: tuple[str, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(
            features_sql=data["features_sql"],
            context_sql=dict(data["context_sql"]),
            feature_names=tuple(data["feature_names"]),
        )


def spec_digest(spec: FeatureSpec) -> str:
    """A short digest of a spec: models whose specs share it share a feature context. A function,
    not a method, because ``spec`` may be an older model's own packaged ``FeatureSpec`` class,
    which has ``to_dict`` and nothing added since."""
    text = json.dumps(spec.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class FeatureContext:
    """The inputs of the feature SQL for one serving day, in a private in-memory DuckDB.

    Built once per (day, client) partition from the contract tables as they were before the day
    (``recent_saves`` and ``recent_engagements`` cover the ``CONTEXT_LOOKBACK_DAYS`` before it);
    then ``featurize`` runs per batch of candidates. Offline recomputation builds the same
    context from the same rows, which is what makes logged and recomputed features equal.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        day: date,
        users: pa.Table,
        pins: pa.Table,
        recent_saves: pa.Table,
        recent_engagements: pa.Table,
        threads: int | None = None,
    ) -> None:
        self.spec = spec
        self.con = duckdb.connect()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        day_start = pa.table({"day_start": pa.array([datetime(day.year, day.month, day.day)])})
        inputs = {
            "users": users.select(["user_id", "locale"]),
            "pins": pins.select(["pin_id", "locale", "topic", "created_at"]),
            "recent_saves": recent_saves.select(["pin_id", "saved_at"]),
            "recent_engagements": recent_engagements.select(["user_id", "pin_id", "action", "ts"]),
            "serving_day": day_start.cast(pa.schema([("day_start", TIMESTAMP)])),
        }
        for name, table in inputs.items():
            self.con.register(f"_{name}", table)
            self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
            self.con.unregister(f"_{name}")
        for name, sql in spec.context_sql.items():
            self.con.execute(f"CREATE TABLE {name} AS {sql}")

    def featurize(
        self, candidates: pa.Table | pd.DataFrame, con: duckdb.DuckDBPyConnection | None = None
    ) -> pa.Table:
        """Feature columns (``spec.feature_names``, in order) for each candidate row, aligned
        with the input rows. Candidates need request_id, user_id, ts, pin_id, visit_count,
        visit_rank, query_hits, pin_degree. ``con``: a ``cursor()`` of this context's
        connection, for a thread of its own (one connection runs one query at a time)."""
        return run_feature_sql(self.con if con is None else con, self.spec, candidates)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> FeatureContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_feature_sql(
    con: duckdb.DuckDBPyConnection, spec: FeatureSpec, candidates: pa.Table | pd.DataFrame
) -> pa.Table:
    """``spec``'s feature SQL on ``con`` over ``candidates`` (registered as ``candidates`` with a
    ``row_idx``): its feature columns, in order, one row per candidate. ``con`` holds the
    context tables the SQL reads: ``FeatureContext``'s whole tables, or the online service's
    rows of a batch's keys."""
    if isinstance(candidates, pd.DataFrame):
        candidates = pa.Table.from_pandas(candidates, preserve_index=False)
    n = candidates.num_rows
    batch = candidates.append_column("row_idx", pa.array(np.arange(n, dtype=np.int64)))
    con.register("candidates", batch)
    try:
        result = con.sql(spec.features_sql).to_arrow_table()
    finally:
        con.unregister("candidates")
    if result.num_rows != n:
        raise ValueError(f"feature SQL returned {result.num_rows} rows for {n} candidates")
    return result.select(list(spec.feature_names))


def feature_matrix(features: pa.Table, names: tuple[str, ...]) -> np.ndarray:
    """A float32 matrix in ``names`` order: what XGBoost wants, built without pandas."""
    return np.column_stack(
        [features[name].to_numpy().astype(np.float32, copy=False) for name in names]
    )


class BoosterScorer:
    """An XGBoost booster over the features its spec names. It scores margins (log-odds): only
    the order matters to the funnel, and margins skip a sigmoid per row."""

    def __init__(self, booster, feature_spec: FeatureSpec, version: str) -> None:
        self.booster = booster
        self.feature_spec = feature_spec
        self.version = version

    def score(self, features: pa.Table) -> np.ndarray:
        matrix = feature_matrix(features, self.feature_spec.feature_names)
        return np.asarray(
            self.booster.inplace_predict(matrix, predict_type="margin"), dtype=np.float64
        )
