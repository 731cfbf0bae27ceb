"""Synthetic training windows in the ``labeled_examples`` table: the project's feature names and
types, whole requests of ten candidates, and labels that follow a few features (and not others),
so that a model has something to learn and two fits can be compared on a day they never saw."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pixie_assets.core.contract import FEATURE_NAMES
from pixie_assets.core.warehouse import writer
from pixie_assets.training.examples import store_examples

CLIENT = "homefeed"
STRATEGY = "funnel_blended"
CANDIDATES = 10  # rows per request
FIRST_DAY = date(2026, 11, 1)


def example_day(day: date, seed: int, requests: int, client: str = CLIENT) -> pd.DataFrame:
    """One day of examples: ``requests`` requests of ``CANDIDATES`` rows each, in
    ``labeled_examples``' shape (features, outcomes, label, weight)."""
    rng = np.random.default_rng(seed)
    n = requests * CANDIDATES
    visit_count = rng.gamma(1.5, 20.0, n)
    affinity = rng.random(n)
    locale = (rng.random(n) < 0.7).astype(np.int32)
    saves = rng.poisson(3, n).astype(np.int32)
    hides = rng.poisson(0.5, n).astype(np.int32)
    logit = (
        0.6 * np.log1p(visit_count)
        + 1.5 * affinity * locale
        + 0.25 * np.sqrt(saves)
        - 0.4 * hides
        - 3.0
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    saved = ((rng.random(n) < 0.3) & (label > 0)).astype(np.int32)
    frame = pd.DataFrame(
        {
            "request_id": [f"{client}:{day.isoformat()}:{i // CANDIDATES:06d}" for i in range(n)],
            "pin_id": rng.integers(0, 1_000_000, n),
            "day": day,
            "client": client,
            "visit_count": visit_count,
            "visit_rank": np.tile(np.arange(1, CANDIDATES + 1, dtype=np.int32), requests),
            "query_hits": rng.integers(1, 6, n).astype(np.int32),
            "pin_degree": rng.integers(1, 500, n).astype(np.int32),
            "pin_age_days": rng.exponential(60.0, n),
            "pin_saves_7d": saves,
            "pin_engagements_7d": (saves + rng.poisson(2, n)).astype(np.int32),
            "pin_hides_7d": hides,
            "user_activity_7d": rng.poisson(12, n).astype(np.int32),
            "locale_match": locale,
            "user_topic_affinity": affinity,
            "impressed": label > 0,
            "saved": saved,
            "clicked": ((rng.random(n) < 0.2) & (label > 0)).astype(np.int32),
            "closeup": np.zeros(n, dtype=np.int32),
            "hidden": np.zeros(n, dtype=np.int32),
            "label": label,
            "weight": 1.0 + 5.0 * saved,
        }
    )
    assert tuple(c for c in frame.columns if c in FEATURE_NAMES) == FEATURE_NAMES
    return frame


def window_days(count: int) -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range(count)]


def store_window(duckdb_path: Path, days: list[date], requests: int, client: str = CLIENT) -> None:
    """``example_day`` of each day (seeded by its position) into ``labeled_examples``."""
    with writer(duckdb_path) as con:
        for i, day in enumerate(days):
            table = pa.Table.from_pandas(
                example_day(day, i, requests, client), preserve_index=False
            )
            # as the label SQL makes them: its literals 1.0 and 0.0 are DECIMAL(2,1)
            label = table.schema.get_field_index("label")
            table = table.set_column(label, "label", table["label"].cast(pa.decimal128(2, 1)))
            store_examples(con, table, day, client, STRATEGY)


def held_out_day(requests: int) -> pd.DataFrame:
    """A day after every window of these tests, that no fit sees: where fits are compared."""
    return example_day(FIRST_DAY + timedelta(days=30), 1_000, requests)
