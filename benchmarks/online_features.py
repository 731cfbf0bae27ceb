"""The online feature query against the size of the catalog: the whole context tables against
only the rows of the batch's keys (``pixie_assets.online.features``).

For each catalog size a day's context is built from synthetic tables (pins with ids interleaved
over one range, as a real catalog's are, so DuckDB's min/max join filters cannot skip them; 100k
users; saves and engagements over the week before), then one request's 200 candidates at a time
are featurized both ways. Prints a JSON line per size (milliseconds per request and the ratio
whole / keyed) and checks the two give the same features.

    .venv/bin/python benchmarks/online_features.py                      # 200k, 1M, 4M pins
    .venv/bin/python benchmarks/online_features.py --pins 20000,80000   # quick
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from online import mean_ms  # noqa: E402  (the sibling script)

from pixie_assets.online.features import KeyedContext, WholeContextFeaturizer
from pixie_assets.serving.featurize import FeatureContext
from pixie_assets.serving.scoring import repo_feature_spec

DAY = date(2026, 11, 8)
WEEK_US = 7 * 86_400 * 1_000_000
TOPICS = np.array(["art", "food", "travel", "home", "style", "tech"])


def context_tables(pins: int, users: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    pin_ids = np.sort(rng.choice(np.arange(10 * pins), pins, replace=False)) + 1_000_000
    user_ids = np.arange(users) * 3 + 7
    day_us = np.datetime64(datetime.combine(DAY, datetime.min.time()), "us").astype(np.int64)

    def week(n: int) -> pa.Array:
        return pa.array(day_us - rng.integers(1, WEEK_US, n), pa.int64()).cast(pa.timestamp("us"))

    events = pins * 2
    return {
        "users": pa.table({"user_id": user_ids, "locale": rng.choice(["en", "fr"], users)}),
        "pins": pa.table(
            {
                "pin_id": pin_ids,
                "locale": rng.choice(["en", "fr"], pins),
                "topic": rng.choice(TOPICS, pins),
                "created_at": week(pins),
            }
        ),  # fmt: skip
        "recent_saves": pa.table({"pin_id": rng.choice(pin_ids, events), "saved_at": week(events)}),
        "recent_engagements": pa.table(
            {
                "user_id": rng.choice(user_ids, events),
                "pin_id": rng.choice(pin_ids, events),
                "action": rng.choice(["save", "click", "closeup", "hide"], events),
                "ts": week(events),
            }
        ),  # fmt: skip
    }


def request(tables: dict[str, pa.Table], k: int, rng: np.random.Generator) -> pa.Table:
    """One request's candidates: a user, 200 pins of the catalog, noon of the day."""
    pins = rng.choice(tables["pins"]["pin_id"].to_numpy(), 200, replace=False)
    user = int(rng.choice(tables["users"]["user_id"].to_numpy()))
    noon = np.datetime64(datetime.combine(DAY, datetime.min.time()), "us") + np.timedelta64(12, "h")
    return pa.table({
        "request_id": [f"r{k}"] * 200, "user_id": np.full(200, user, np.int64),
        "ts": pa.array(np.full(200, noon)), "pin_id": pins.astype(np.int64),
        "visit_count": rng.random(200) * 100, "visit_rank": np.arange(1, 201),
        "query_hits": np.ones(200, np.int64), "pin_degree": rng.integers(1, 500, 200),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pins", default="200000,1000000,4000000", help="catalog sizes")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    for pins in (int(n) for n in args.pins.split(",")):
        rng = np.random.default_rng(pins)
        tables = context_tables(pins, args.users, rng)
        with FeatureContext(repo_feature_spec(), DAY, **tables, threads=1) as context:
            batches = [request(tables, k, rng) for k in range(args.requests)]
            keyed, whole = KeyedContext(context).connect(), WholeContextFeaturizer(context)
            try:
                same = all(keyed.featurize(b).equals(whole.featurize(b)) for b in batches)
                whole_ms, keyed_ms = (
                    mean_ms(whole.featurize, batches, repeat=3),
                    mean_ms(keyed.featurize, batches, repeat=3),
                )
            finally:
                keyed.close()
                whole.close()
        print(json.dumps({"pins": pins, "whole_ms": whole_ms, "keyed_ms": keyed_ms,
                          "whole_over_keyed": round(whole_ms / keyed_ms, 2),
                          "same_features": same}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
