"""The data contract as Arrow schemas: the one place column names and types live
(docs/architecture.md §3).

World mode writes exactly these schemas and landing mode validates against them, so a user's own
Parquet files and the synthetic world are interchangeable.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("us")

USERS = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("locale", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

PINS = pa.schema(
    [
        pa.field("pin_id", pa.int64(), nullable=False),
        pa.field("locale", pa.string(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
    ]
)

BOARDS = pa.schema(
    [
        pa.field("board_id", pa.int64(), nullable=False),
        pa.field("owner_id", pa.int64(), nullable=False),
        pa.field("topic", pa.string(), nullable=True),
    ]
)

SAVES = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("pin_id", pa.int64(), nullable=False),
        pa.field("board_id", pa.int64(), nullable=False),
        pa.field("saved_at", TIMESTAMP, nullable=False),
    ]
)

ACTIONS = ("save", "click", "closeup", "hide")

ENGAGEMENTS = pa.schema(
    [
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("pin_id", pa.int64(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("client", pa.string(), nullable=False),
        pa.field("request_id", pa.string(), nullable=True),
        pa.field("ts", TIMESTAMP, nullable=False),
    ]
)

IMPRESSIONS = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("pin_id", pa.int64(), nullable=False),
        pa.field("position", pa.int32(), nullable=False),
        pa.field("full_ranker_score", pa.float64(), nullable=False),
    ]
)

# serving_log also carries one column per feature, declared by sql/features.sql.
SERVING_LOG_KEY_COLUMNS = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("client", pa.string(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("pin_id", pa.int64(), nullable=False),
        pa.field("visit_count", pa.float64(), nullable=False),
        pa.field("visit_rank", pa.int32(), nullable=False),
        pa.field("lightweight_score", pa.float64(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("sent_to_full_ranker", pa.bool_(), nullable=False),
    ]
)

# Features logged with every candidate (sql/features.sql computes exactly these, in this order).
# visit_count and visit_rank are key columns above and features too.
FEATURES: tuple[tuple[str, pa.DataType], ...] = (
    ("visit_count", pa.float64()),
    ("visit_rank", pa.int32()),
    ("query_hits", pa.int32()),
    ("pin_degree", pa.int32()),
    ("pin_age_days", pa.float64()),
    ("pin_saves_7d", pa.int32()),
    ("pin_engagements_7d", pa.int32()),
    ("pin_hides_7d", pa.int32()),
    ("user_activity_7d", pa.int32()),
    ("locale_match", pa.int32()),
    ("user_topic_affinity", pa.float64()),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)

SERVING_LOG = pa.schema(
    list(SERVING_LOG_KEY_COLUMNS)
    + [
        pa.field(name, dtype, nullable=False)
        for name, dtype in FEATURES
        if name not in SERVING_LOG_KEY_COLUMNS.names
    ]
)

# Tables the serving stage writes to landing/<table>/day=D/client=C/ and ingestion loads.
SERVING_TABLES: dict[str, pa.Schema] = {
    "serving_log": SERVING_LOG,
    "impressions": IMPRESSIONS,
    "engagements": ENGAGEMENTS,
}

WORLD_TABLES: dict[str, pa.Schema] = {
    "users": USERS,
    "pins": PINS,
    "boards": BOARDS,
    "saves": SAVES,
    "engagements": ENGAGEMENTS,
}
