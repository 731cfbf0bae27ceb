"""Label strategies: turn a partition's logs into (features…, label, weight) (docs/architecture.md
§6).

The SQL lives in ``sql/labels/``: ``outcomes.sql`` joins serving_log ⟕ impressions ⟕ engagements
once, ``action_value.sql`` adds what the user's actions are worth to the client (the only place
that value is defined), and each strategy file only decides labels and weights from the result,
so adding a strategy is one file.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.sql import bind, load_sql, render_sql

STRATEGIES = ("engagement", "funnel_pure", "funnel_blended", "distillation")
REGRESSION_STRATEGIES = frozenset({"distillation"})


class UnknownStrategyError(ValueError):
    pass


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise UnknownStrategyError(
            f"label strategy {strategy!r} is not one of {', '.join(STRATEGIES)} (sql/labels/)"
        )
    return strategy


def label_parameters(config: ClientConfig, day: date) -> dict[str, object]:
    weights = config.label_action_weights
    return {
        "day": day,
        "client": config.name,
        "w_save": float(weights.get("save", 0.0)),
        "w_click": float(weights.get("click", 0.0)),
        "w_closeup": float(weights.get("closeup", 0.0)),
        "hide_weight": float(config.hide_weight),
        "local_weight": float(config.local_weight),
    }


def outcomes_sql() -> str:
    """The query of the ``outcomes`` table the strategies read: every logged candidate's outcome
    with its ``action_value``."""
    return render_sql("labels/action_value", outcomes=load_sql("labels/outcomes"))


def label_partition(
    con: duckdb.DuckDBPyConnection, config: ClientConfig, day: date, strategy: str | None = None
) -> pa.Table:
    """Labeled examples of one (day, client) from the serving tables visible to ``con``."""
    strategy = check_strategy(strategy or config.strategy)
    params = label_parameters(config, day)
    con.execute("DROP TABLE IF EXISTS outcomes")
    outcomes = outcomes_sql()
    con.execute(f"CREATE TEMP TABLE outcomes AS {outcomes}", bind(outcomes, params))
    sql = load_sql(f"labels/{strategy}")
    try:
        return con.sql(sql, params=bind(sql, params)).to_arrow_table()
    finally:
        con.execute("DROP TABLE IF EXISTS outcomes")
