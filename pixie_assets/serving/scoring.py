"""Lightweight scorers: what ranks Pixie's candidates before the full ranker sees them."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pyarrow as pa

from pixie_assets.core import contract
from pixie_assets.core.sql import load_sql
from pixie_assets.serving.featurize import CONTEXT_TABLES, BoosterScorer, FeatureSpec

VISIT_COUNT_VERSION = "visit_count"

__all__ = ["BoosterScorer", "Scorer", "VisitCountScorer", "repo_feature_spec"]


def repo_feature_spec() -> FeatureSpec:
    """The featurization in this working tree (sql/features.sql and sql/feature_context/)."""
    return FeatureSpec(
        features_sql=load_sql("features"),
        context_sql={name: load_sql(f"feature_context/{name}") for name in CONTEXT_TABLES},
        feature_names=contract.FEATURE_NAMES,
    )


class Scorer(Protocol):
    """Scores featurized candidates; higher is better. ``version`` is logged with every row."""

    version: str
    feature_spec: FeatureSpec

    def score(self, features: pa.Table) -> np.ndarray: ...


class VisitCountScorer:
    """Pixie's original heuristic, and every client's ranking until it has a champion model."""

    version = VISIT_COUNT_VERSION

    def __init__(self, feature_spec: FeatureSpec | None = None) -> None:
        self.feature_spec = feature_spec or repo_feature_spec()

    def score(self, features: pa.Table) -> np.ndarray:
        return features["visit_count"].to_numpy().astype(np.float64)
