"""Data-quality measures behind the asset checks: pure functions, no Dagster.

Each returns numbers (and problems as text) so the check can both decide and show its evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_ALERT = 0.25  # the usual "significant shift" threshold for the population stability index


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``, over the reference's
    quantile bins (ties collapse bins, so discrete features get one bin per value)."""
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1
    )
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    ref_share = np.maximum(ref_share / len(reference), 1e-4)
    cur_share = np.maximum(cur_share / len(current), 1e-4)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def feature_psi(
    reference: pd.DataFrame, current: pd.DataFrame, features: tuple[str, ...]
) -> dict[str, float]:
    return {name: psi(reference[name].to_numpy(), current[name].to_numpy()) for name in features}


def graph_sanity(
    pin_degree: np.ndarray, board_degree: np.ndarray, edges_unique: int, kept: int
) -> dict:
    return {
        "pins_without_boards": int((pin_degree == 0).sum()),
        "boards_without_pins": int((board_degree == 0).sum()),
        "pruned_edge_fraction": 1 - kept / max(edges_unique, 1),
    }


def candidate_coverage(requests: int, candidates_per_request: np.ndarray, k: int) -> dict:
    """Share of requests that got any candidate, and how full their lists were (of K)."""
    served = candidates_per_request[candidates_per_request > 0]
    return {
        "requests": requests,
        "requests_with_candidates_share": len(served) / max(requests, 1),
        "mean_fill_of_k": float(served.mean() / k) if len(served) else 0.0,
    }
