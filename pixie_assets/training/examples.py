"""The ``labeled_examples`` table: one strategy's examples per (day, client), replaced whole.

Replacing a whole partition keeps re-runs idempotent; the statements are in ``sql/training/``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pixie_assets.core.sql import bind, render_sql
from pixie_assets.core.warehouse import reader, table_exists

TABLE = "labeled_examples"
STAGED = "_new_examples"  # the examples being stored, registered with the connection


def examples_sql(name: str) -> str:
    """``sql/training/<name>.sql`` with the table names filled in."""
    return render_sql(f"training/{name}", table=TABLE, staged=STAGED)


def with_strategy(examples: pa.Table, strategy: str) -> pa.Table:
    return examples.append_column("strategy", pa.array([strategy] * examples.num_rows, pa.string()))


def store_examples(
    con: duckdb.DuckDBPyConnection, examples: pa.Table, day: date, client: str, strategy: str
) -> None:
    """Replace the (day, client) partition in one transaction: re-runs are idempotent and a
    failure leaves the previous examples."""
    con.register(STAGED, with_strategy(examples, strategy))
    delete = examples_sql("delete_examples_partition")
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(examples_sql("create_examples"))
        con.execute(delete, bind(delete, {"day": day, "client": client}))
        con.execute(examples_sql("insert_examples"))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister(STAGED)


def load_examples(duckdb_path: Path, client: str, days: list[date]) -> pd.DataFrame:
    """Examples of ``client`` on ``days`` (those that exist), ordered for reproducibility."""
    select = examples_sql("select_examples")
    with reader(duckdb_path) as con:
        if not table_exists(con, TABLE):
            return pd.DataFrame()
        return con.sql(select, params=bind(select, {"client": client, "days": days})).df()
