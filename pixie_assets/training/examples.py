"""The ``labeled_examples`` table: one strategy's examples per (day, client), replaced whole."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pixie_assets.core.warehouse import reader, table_exists

TABLE = "labeled_examples"


def store_examples(
    con: duckdb.DuckDBPyConnection, examples: pa.Table, day: date, client: str, strategy: str
) -> None:
    """Replace the (day, client) partition in one transaction: re-runs are idempotent and a
    failure leaves the previous examples."""
    data = examples.append_column("strategy", pa.array([strategy] * examples.num_rows, pa.string()))
    con.register("_new_examples", data)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT * FROM _new_examples LIMIT 0")
        con.execute(f"DELETE FROM {TABLE} WHERE day = ? AND client = ?", [day, client])
        con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM _new_examples")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_new_examples")


def load_examples(duckdb_path: Path, client: str, days: list[date]) -> pd.DataFrame:
    """Examples of ``client`` on ``days`` (those that exist), ordered for reproducibility."""
    with reader(duckdb_path) as con:
        if not table_exists(con, TABLE):
            return pd.DataFrame()
        return con.sql(
            f"SELECT * FROM {TABLE} WHERE client = $client AND day IN (SELECT unnest($days)) "
            "ORDER BY day, request_id, pin_id",
            params={"client": client, "days": days},
        ).df()
