"""The Parquet export of a training window that Dask workers read: whole requests per part file,
one query id per request over the window, the table's rows exactly, replaced on a re-run."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pixie_assets.core.clients import client_config
from pixie_assets.core.contract import FEATURE_NAMES
from pixie_assets.training.examples import export_examples, load_examples
from pixie_assets.training.fit import client_plan
from pixie_assets_tests.training.example_windows import (
    CANDIDATES,
    CLIENT,
    STRATEGY,
    store_window,
    window_days,
)

REQUESTS = 12
PART_ROWS = 25  # 120 rows a day: 5 parts of 24 rows, rounded to whole requests of 10
COLUMNS = client_plan(client_config(CLIENT), STRATEGY, FEATURE_NAMES).columns


@pytest.fixture
def window(tmp_path):
    db = tmp_path / "pixie.duckdb"
    days = window_days(2)
    store_window(db, days, REQUESTS)
    return db, days, tmp_path / "exports"


def _read(export) -> pd.DataFrame:
    return pd.concat(
        [pq.read_table(path).to_pandas() for day in export.days for path in day.files],
        ignore_index=True,
    )


def test_part_files_hold_whole_requests_in_query_id_order(window):
    db, days, root = window
    export = export_examples(db, root, CLIENT, days, COLUMNS, part_rows=PART_ROWS)
    sizes = [[pq.read_metadata(p).num_rows for p in day.files] for day in export.days]
    assert sizes == [[30, 20, 30, 20, 20]] * 2
    assert [p.name for p in export.days[0].files][:2] == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert export.days[1].folder == root / f"client={CLIENT}" / f"day={days[1].isoformat()}"
    for day in export.days:
        for path in day.files:
            part = pq.read_table(path).to_pandas()
            assert part["qid"].is_monotonic_increasing
            assert (part.groupby("request_id").size() == CANDIDATES).all()  # no request cut
    rows = _read(export)
    # one dense query id per request over the whole window, in request id order
    assert (rows.groupby("request_id")["qid"].nunique() == 1).all()
    by_request = rows.drop_duplicates("request_id").sort_values("request_id")["qid"].to_numpy()
    assert (by_request == np.arange(2 * REQUESTS)).all()


def test_the_export_is_the_window_s_rows_and_columns(window):
    db, days, root = window
    export = export_examples(db, root, CLIENT, days, COLUMNS, part_rows=PART_ROWS)
    rows = _read(export)
    assert list(rows.columns) == [*COLUMNS, "qid"]
    assert rows["label"].dtype == np.float64  # stored as DECIMAL, as the label SQL makes it
    loaded = load_examples(db, CLIENT, days)
    pd.testing.assert_frame_equal(
        rows[list(COLUMNS)], loaded[list(COLUMNS)], check_dtype=False, check_exact=True
    )
    assert export.rows == len(loaded) == 2 * REQUESTS * CANDIDATES
    assert export.positives == int((loaded["label"] > 0).sum())
    assert [d.rows for d in export.days] == [REQUESTS * CANDIDATES] * 2


def test_a_re_run_replaces_the_export_byte_for_byte_or_with_the_new_rows(window):
    db, days, root = window
    first = export_examples(db, root, CLIENT, days, COLUMNS, part_rows=PART_ROWS)
    before = {p: p.read_bytes() for d in first.days for p in d.files}
    again = export_examples(db, root, CLIENT, days, COLUMNS, part_rows=PART_ROWS)
    assert {p: p.read_bytes() for d in again.days for p in d.files} == before
    with duckdb.connect(str(db)) as con:  # the newest day's examples are gone
        con.execute("DELETE FROM labeled_examples WHERE day = ?", [days[1]])
    shrunk = export_examples(db, root, CLIENT, days, COLUMNS, part_rows=PART_ROWS)
    assert shrunk.days[1].rows == 0 and shrunk.days[1].files == ()
    assert list(shrunk.days[1].folder.iterdir()) == []  # no stale part file is left
    assert shrunk.days_with_rows() == [shrunk.days[0]]
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no staging left


def test_a_warehouse_without_examples_exports_empty_days(tmp_path):
    db = tmp_path / "pixie.duckdb"
    duckdb.connect(str(db)).close()
    export = export_examples(db, tmp_path / "exports", CLIENT, window_days(1), COLUMNS)
    assert export.rows == 0 and export.days_with_rows() == []
    assert export.days[0].folder.is_dir()
