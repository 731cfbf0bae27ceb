"""Serving-path throughput per core: featurize (DuckDB, sql/features.sql) + score (XGBoost) of
real Pixie candidates, against raw ``Booster.inplace_predict`` on the same rows and model.

Both run on one thread in the same process, alternating, several times (the machines here are
noisy); the final JSON line has the medians and their ratio (target: ratio >= 0.5).

    python benchmarks/serving.py [--scale demo] [--repeats 5] [--batch-requests 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import xgboost as xgb

from pixie_assets.core.clients import CLIENTS
from pixie_assets.graph import PruneConfig, build_pin_board_graph
from pixie_assets.serving.candidates import generate_candidates
from pixie_assets.serving.featurize import (
    CONTEXT_LOOKBACK_DAYS,
    BoosterScorer,
    FeatureContext,
    feature_matrix,
)
from pixie_assets.serving.queries import engagement_weights, recent_engagement_queries
from pixie_assets.serving.scoring import repo_feature_spec
from pixie_assets.serving.traffic import sample_requests
from pixie_assets.world import generate_world

DAY = date(2026, 11, 1)


def _since(table: pa.Table, column: str, day: date) -> pa.Table:
    cutoff = np.datetime64(day.isoformat(), "us")
    return table.filter(pa.compute.greater_equal(table[column], pa.scalar(cutoff)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-requests", type=int, default=1_000)
    args = parser.parse_args()

    config = CLIENTS["homefeed"]
    world = generate_world(args.scale, 7, DAY)
    t = world.tables
    graph, _ = build_pin_board_graph(
        t["saves"], t["pins"], t["boards"], np.datetime64(DAY.isoformat()), PruneConfig()
    )
    weights = engagement_weights(t["engagements"].to_pandas(), config, DAY)
    requests = sample_requests(
        world.truth.hidden_activity(), len(world.truth.user_ids), config, DAY, 7, weights
    )
    queries = recent_engagement_queries(requests, weights, config)
    candidates, _ = generate_candidates(graph, requests, queries, config, seed=1)
    print(f"{len(requests):,} requests, {len(candidates):,} candidates", flush=True)

    spec = repo_feature_spec()
    since = DAY - timedelta(days=CONTEXT_LOOKBACK_DAYS)
    context = FeatureContext(
        spec,
        DAY,
        users=t["users"],
        pins=t["pins"],
        recent_saves=_since(t["saves"], "saved_at", since),
        recent_engagements=_since(t["engagements"], "ts", since),
        threads=1,
    )
    # A model of the configured size, trained on the hidden truth's expected value.
    features = context.featurize(candidates)
    matrix = feature_matrix(features, spec.feature_names)
    value = world.truth.action_probabilities(
        candidates["user_id"].to_numpy(), candidates["pin_id"].to_numpy()
    )[:, :3].sum(axis=1)
    label = (value > np.quantile(value, 0.8)).astype(np.float32)
    booster = xgb.train(
        {**config.xgb_params, "objective": "binary:logistic", "nthread": 2},
        xgb.DMatrix(matrix, label=label),
        num_boost_round=config.boost_rounds,
    )
    booster.set_param({"nthread": 1})
    scorer = BoosterScorer(booster, spec, "bench")

    codes = candidates["request_id"].factorize()[0]
    bounds = np.searchsorted(codes, np.arange(0, codes.max() + 1, args.batch_requests))
    batches = [candidates.iloc[a:b] for a, b in zip(bounds, [*bounds[1:], len(codes)], strict=True)]
    matrices = [matrix[a:b] for a, b in zip(bounds, [*bounds[1:], len(codes)], strict=True)]
    rows = len(candidates)

    serving, raw = [], []
    for repeat in range(args.repeats):
        started = time.perf_counter()
        for batch in batches:
            scorer.score(context.featurize(batch))
        serving.append(rows / (time.perf_counter() - started))
        started = time.perf_counter()
        for part in matrices:
            booster.inplace_predict(part, predict_type="margin")
        raw.append(rows / (time.perf_counter() - started))
        print(f"repeat {repeat}: serving {serving[-1]:,.0f} rows/s, raw {raw[-1]:,.0f} rows/s")
    serving_rate, raw_rate = statistics.median(serving), statistics.median(raw)
    print(
        json.dumps(
            {
                "serving_rows_per_s": round(serving_rate),
                "raw_predict_rows_per_s": round(raw_rate),
                "ratio": round(serving_rate / raw_rate, 3),
                "rows": rows,
                "batch_rows": round(rows / len(batches)),
                "trees": booster.num_boosted_rounds(),
            }
        )
    )


if __name__ == "__main__":
    main()
