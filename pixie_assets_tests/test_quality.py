"""Data-quality measures behind the asset checks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pixie_assets.core.quality import (
    PSI_ALERT,
    candidate_coverage,
    graph_sanity,
    psi,
)
from pixie_assets.landing import check_footer


def test_psi_is_near_zero_for_the_same_distribution_and_alerts_on_a_shift():
    rng = np.random.default_rng(7)
    reference = rng.normal(size=50_000)
    assert psi(reference, rng.normal(size=50_000)) < 0.01  # sampling noise only
    assert psi(reference, rng.normal(loc=1.0, size=50_000)) > PSI_ALERT  # one sd shift
    # discrete features: one bin per value
    assert psi(np.repeat([0, 1], 500), np.repeat([0, 1], [900, 100])) > PSI_ALERT


def test_the_exact_schema_check_names_the_file_and_column(tmp_path):
    """The ``world`` asset check: the contract's very columns and types, nothing else."""
    path = tmp_path / "users.parquet"
    pq.write_table(
        pa.table({"user_id": pa.array(["1"], pa.string()), "created_at": [None], "x": [1]}), path
    )
    problems = check_footer(path, "users", exact=True).problems
    assert any(
        "column 'user_id' has type string, expected int64" in p and str(path) in p for p in problems
    )
    assert any("column 'locale' is missing" in p for p in problems)
    assert any("unexpected column 'x'" in p for p in problems)


def test_graph_sanity_and_candidate_coverage():
    sanity = graph_sanity(np.array([1, 0, 2]), np.array([3, 1]), edges_unique=10, kept=4)
    assert sanity == {
        "pins_without_boards": 1,
        "boards_without_pins": 0,
        "pruned_edge_fraction": 0.6,
    }
    coverage = candidate_coverage(4, np.array([200, 100, 0, 0]), k=200)
    assert coverage["requests_with_candidates_share"] == 0.5
    assert coverage["mean_fill_of_k"] == 0.75
