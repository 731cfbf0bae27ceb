"""The online feature path (``online.features``): the feature SQL over only the rows of a batch's
keys gives, to the bit, what it gives over the whole context tables; a feature SQL that reads
across rows is caught when the context is built, and served from the whole tables instead."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.online.features import (
    KeyedContext,
    KeyedFeaturizer,
    OnlineFeatures,
    WholeContextFeaturizer,
    check_agrees,
    probe_batches,
)
from pixie_assets.serving.featurize import FeatureContext
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets_tests.readme import bash_commands

DAY = date(2026, 11, 5)
TOPICS = ["art", "food", "travel"]


def _context_tables(rng: np.random.Generator) -> dict[str, pa.Table]:
    """A small world before DAY: 40 users, 300 pins, saves and engagements over 10 days."""
    users = np.arange(1, 41) * 7  # sparse ids, as real ones are
    pins = np.arange(1, 301) * 13
    start = datetime(2026, 10, 26)

    def times(n: int) -> pa.Array:
        seconds = rng.integers(0, 10 * 86_400, n)
        return pa.array([start + timedelta(seconds=int(s)) for s in seconds], pa.timestamp("us"))

    n_saves, n_engaged = 600, 900
    return {
        "users": pa.table({"user_id": users, "locale": rng.choice(["en", "fr"], len(users))}),
        "pins": pa.table(
            {
                "pin_id": pins,
                "locale": rng.choice(["en", "fr"], len(pins)),
                "topic": rng.choice(TOPICS, len(pins)),
                "created_at": times(len(pins)),
            }
        ),
        "recent_saves": pa.table({"pin_id": rng.choice(pins, n_saves), "saved_at": times(n_saves)}),
        "recent_engagements": pa.table(
            {
                "user_id": rng.choice(users, n_engaged),
                "pin_id": rng.choice(pins, n_engaged),
                "action": rng.choice(["save", "click", "closeup", "hide"], n_engaged),
                "ts": times(n_engaged),
            }
        ),
    }


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return _context_tables(np.random.default_rng(3))


@pytest.fixture
def context(tables):
    with FeatureContext(repo_feature_spec(), DAY, **tables, threads=1) as built:
        yield built


def _requests(tables: dict[str, pa.Table], rng: np.random.Generator) -> pa.Table:
    """Three requests' candidates: the same pin in two requests, an unknown user and pin."""
    users = tables["users"]["user_id"].to_numpy()
    pins = np.append(tables["pins"]["pin_id"].to_numpy(), 999_999)
    rows = []
    for request, user in enumerate([users[0], users[5], -1]):
        chosen = rng.choice(pins, 30, replace=False)
        chosen[0] = pins[1]  # in every request
        for rank, pin in enumerate(chosen, start=1):
            rows.append({"request_id": f"r{request}", "user_id": int(user),
                         "ts": datetime(2026, 11, 5, 9, 30 + request), "pin_id": int(pin),
                         "visit_count": float(100 - rank), "visit_rank": rank,
                         "query_hits": 1 + rank % 3, "pin_degree": 5 + rank})  # fmt: skip
    return pa.Table.from_pylist(rows).cast(
        pa.schema(
            [
                ("request_id", pa.string()),
                ("user_id", pa.int64()),
                ("ts", pa.timestamp("us")),
                ("pin_id", pa.int64()),
                ("visit_count", pa.float64()),
                ("visit_rank", pa.int64()),
                ("query_hits", pa.int64()),
                ("pin_degree", pa.int64()),
            ]
        )  # fmt: skip
    )


def test_the_keyed_rows_give_the_whole_contexts_features_to_the_bit(context, tables):
    keyed = KeyedContext(context)
    assert set(keyed.keyed) == {"users", "pins", "pin_stats", "user_stats", "user_topic"}
    assert keyed.keyed["user_topic"].key == "user_id"  # several rows per key, all taken
    featurizer, whole = keyed.connect(), WholeContextFeaturizer(context)
    try:
        candidates = _requests(tables, np.random.default_rng(5))
        mine, theirs = featurizer.featurize(candidates), whole.featurize(candidates)
        assert mine.equals(theirs)
        assert mine.column_names == list(context.spec.feature_names)
        one = candidates.slice(30, 30)  # a batch of one request: fewer keys, same rows
        assert featurizer.featurize(one).equals(theirs.slice(30, 30))
        assert check_agrees(keyed, context, probe_batches(context, DAY)) is None
    finally:
        featurizer.close()
        whole.close()


def test_a_feature_read_across_rows_is_caught_and_served_from_the_whole_context(tables):
    """A feature SQL that reads beyond the candidates' keys (here: the pin's rank by age among
    all pins) differs on the keyed rows; the probe catches it, names the feature, and the
    scoring threads get the whole context."""
    spec = repo_feature_spec()
    across = spec.features_sql.replace(
        "CAST(c.visit_count AS DOUBLE) AS visit_count,",
        "CAST((SELECT count(*) FROM pins AS o WHERE o.created_at < p.created_at) AS DOUBLE) "
        "AS visit_count,",
    )
    assert across != spec.features_sql
    logged: list[str] = []
    with FeatureContext(replace(spec, features_sql=across), DAY, **tables, threads=1) as context:
        problem = check_agrees(KeyedContext(context), context, probe_batches(context, DAY))
        assert problem is not None and "visit_count" in problem
        features = OnlineFeatures(context, DAY, logged.append, keyed_from_rows=0)
        featurizer = features.connect()
        try:
            assert isinstance(featurizer, WholeContextFeaturizer)
        finally:
            featurizer.close()
    assert len(logged) == 1 and "served from the whole context tables" in logged[0]


def test_a_key_local_spec_is_served_keyed_and_its_whole_context_closed(context, tables):
    """The day's context is then held once: the DuckDB copy is closed, the keyed rows serve."""
    features = OnlineFeatures(context, DAY, keyed_from_rows=0)
    featurizer = features.connect()
    try:
        assert isinstance(featurizer, KeyedFeaturizer) and features.context is None
        candidates = _requests(tables, np.random.default_rng(8))
        assert featurizer.featurize(candidates).num_rows == candidates.num_rows
        with pytest.raises(duckdb.Error):  # closed
            context.con.execute("SELECT 1")
    finally:
        featurizer.close()
        features.close()


def test_a_small_catalog_is_served_from_the_whole_context(context):
    """Below ``keyed_from_rows`` rows the whole tables' scan costs less: no keyed copy is made."""
    features = OnlineFeatures(context, DAY, keyed_from_rows=10_000)
    featurizer = features.connect()
    try:
        assert features.mode == "whole" and features.keyed is None
        assert isinstance(featurizer, WholeContextFeaturizer)
    finally:
        featurizer.close()
        features.close()


@pytest.mark.slow
def test_the_feature_scaling_benchmark_runs_as_written():
    (command,) = [
        c for c in bash_commands("The online service") if "benchmarks/online_features.py" in c
    ]
    done = subprocess.run(["bash", "-c", f"set -euo pipefail\n{command}"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [line["pins"] for line in lines] == [20_000, 80_000]
    assert all(line["same_features"] and line["keyed_ms"] > 0 for line in lines), lines
