"""Every label strategy on a hand-built partition, compared row by row with hand-computed
labels and weights (weights: save 5, click 1, closeup 1; hide 2; local 1.5)."""

from __future__ import annotations

import math
from datetime import date, datetime

import duckdb
import pyarrow as pa
import pytest

from pixie_assets.core import contract
from pixie_assets.core.clients import ClientConfig
from pixie_assets.training.labels import STRATEGIES, UnknownStrategyError, label_partition

DAY = date(2026, 11, 3)
CONFIG = ClientConfig(
    "homefeed",
    requests_per_1k_users=1,
    query="recent_engagements",
    label_action_weights={"save": 5.0, "click": 1.0, "closeup": 1.0},
    hide_weight=2.0,
    local_weight=1.5,
)
LOCAL = math.log(1.5)

# (request, pin, locale_match, sent to the full ranker): r1 and r2 on DAY; r9 is another day
# and must be ignored; pins 13 and 23 never reached the full ranker and have no outcome.
CANDIDATES = [
    ("r1", 10, 1, True), ("r1", 11, 0, True), ("r1", 12, 1, True), ("r1", 13, 1, False),
    ("r2", 20, 0, True), ("r2", 21, 1, True), ("r2", 22, 0, True), ("r2", 23, 0, False),
]  # fmt: skip
IMPRESSIONS = [("r1", 10, 0, 0.9), ("r1", 11, 1, 0.4), ("r2", 20, 0, 0.7), ("r2", 21, 1, 0.2)]
ENGAGEMENTS = [
    ("r1", 10, "save"), ("r1", 10, "click"),  # r1/10: saved (and clicked)
    ("r2", 20, "click"), ("r2", 20, "closeup"),  # r2/20: click + closeup = 2
    ("r2", 21, "hide"),
    (None, 11, "click"),  # no request_id: not attributable to a candidate
]  # fmt: skip

EXPECTED = {  # (request, pin) -> (label, weight)
    "engagement": {
        ("r1", 10): (1.0, 5 * 1.5 + 1 * 1.5),  # save 5 + click 1, local
        ("r1", 11): (0.0, 1.0),
        ("r2", 20): (1.0, 2.0),
        ("r2", 21): (0.0, 2.0),  # hidden
    },
    "funnel_pure": {
        ("r1", 10): (1.0, 1.5), ("r1", 11): (1.0, 1.0), ("r1", 12): (0.0, 1.0),
        ("r2", 20): (1.0, 1.0), ("r2", 21): (1.0, 1.5), ("r2", 22): (0.0, 1.0),
    },
    "funnel_blended": {
        ("r1", 10): (1.0, (1 + 6) * 1.5), ("r1", 11): (1.0, 1.0), ("r1", 12): (0.0, 1.0),
        ("r2", 20): (1.0, 3.0), ("r2", 21): (0.0, 2.0), ("r2", 22): (0.0, 1.0),
    },
    "distillation": {
        ("r1", 10): (0.9 + LOCAL, 1.0), ("r1", 11): (0.4, 1.0),
        ("r2", 20): (0.7, 1.0), ("r2", 21): (0.2 + LOCAL, 1.0),
    },
}  # fmt: skip


def _serving_log(rows, day):
    n = len(rows)
    columns = {
        "request_id": [r for r, *_ in rows],
        "ts": [datetime(day.year, day.month, day.day, 12)] * n,
        "client": ["homefeed"] * n,
        "user_id": [1 if r == "r1" else 2 for r, *_ in rows],
        "pin_id": [p for _, p, *_ in rows],
        "lightweight_score": [0.0] * n,
        "model_version": ["visit_count"] * n,
        "sent_to_full_ranker": [sent for *_, sent in rows],
        "locale_match": [m for _, _, m, _ in rows],
    }
    for field in contract.SERVING_LOG:
        if field.name not in columns:
            columns[field.name] = [0] * n
    table = pa.table({f.name: pa.array(columns[f.name], f.type) for f in contract.SERVING_LOG})
    return table.append_column("day", pa.array([day] * n, pa.date32()))


@pytest.fixture
def con():
    con = duckdb.connect()
    log = pa.concat_tables(
        [_serving_log(CANDIDATES, DAY), _serving_log([("r9", 10, 1, True)], date(2026, 11, 2))]
    )
    impressions = pa.table(
        {
            "request_id": [r for r, *_ in IMPRESSIONS] + ["r9"],
            "pin_id": [p for _, p, *_ in IMPRESSIONS] + [10],
            "position": pa.array([i[2] for i in IMPRESSIONS] + [0], pa.int32()),
            "full_ranker_score": [i[3] for i in IMPRESSIONS] + [5.0],
            "day": pa.array([DAY] * len(IMPRESSIONS) + [date(2026, 11, 2)], pa.date32()),
            "client": ["homefeed"] * (len(IMPRESSIONS) + 1),
        }
    )
    engagements = pa.table(
        {
            "user_id": [1] * len(ENGAGEMENTS),
            "pin_id": [p for _, p, _ in ENGAGEMENTS],
            "action": [a for _, _, a in ENGAGEMENTS],
            "client": ["homefeed"] * len(ENGAGEMENTS),
            "request_id": pa.array([r for r, _, _ in ENGAGEMENTS], pa.string()),
            "ts": [datetime(2026, 11, 3, 12, 1)] * len(ENGAGEMENTS),
            "day": pa.array([DAY] * len(ENGAGEMENTS), pa.date32()),
        }
    )
    for name, table in (
        ("serving_log", log),
        ("impressions", impressions),
        ("engagements", engagements),
    ):
        con.register(f"_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    yield con
    con.close()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_labels_and_weights_row_by_row(con, strategy):
    examples = label_partition(con, CONFIG, DAY, strategy).to_pylist()
    got = {(r["request_id"], r["pin_id"]): (r["label"], r["weight"]) for r in examples}
    assert set(got) == set(EXPECTED[strategy])
    for key, (label, weight) in EXPECTED[strategy].items():
        assert got[key][0] == pytest.approx(label, abs=1e-12), key
        assert got[key][1] == pytest.approx(weight, abs=1e-12), key


def test_examples_keep_features_and_outcomes(con):
    examples = label_partition(con, CONFIG, DAY, "funnel_blended")
    for column in (*contract.FEATURE_NAMES, "impressed", "saved", "clicked", "hidden", "day"):
        assert column in examples.schema.names
    assert examples.num_rows == sum(sent for *_, sent in CANDIDATES)


def test_unknown_strategy_is_named(con):
    with pytest.raises(UnknownStrategyError, match="weighted_magic"):
        label_partition(con, CONFIG, DAY, "weighted_magic")
