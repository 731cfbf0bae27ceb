"""The replay's lightweight model: examples from a window's candidates, fit, save and load.

Examples come from the window before the test window, built exactly like the test: the same
candidates (the user's engaged pins removed), labeled 1 where the user saved the pin during that
window. Negatives far outnumber positives (about one in a thousand candidates is saved), so they
are sampled at a fixed rate, chosen to keep at most ``max_rows`` examples, and weighted by the
inverse rate: the model sees the true class balance, and memory stays bounded on large data.
Positives are all kept.

The model is a plain XGBoost booster stored beside its FeatureSpec (``model.json`` +
``feature_spec.json``), not an MLflow registry version: a replay is an offline study and must not
become a candidate for the serving loop's ``@champion``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from pixie_assets.serving.featurize import BoosterScorer, FeatureSpec
from pixie_assets.training.fit import TrainedModel

MODEL_FILE = "model.json"
SPEC_FILE = "feature_spec.json"
REPORT_FILE = "training.json"


@dataclass
class ExampleSampler:
    """Collects labeled candidate batches, keeping every positive and negatives at ``rate``."""

    rate: float
    seed: int
    frames: list[pd.DataFrame] = field(default_factory=list)
    candidates: int = 0
    positives: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.rate <= 1.0:
            raise ValueError("the negative sampling rate must be in (0, 1]")
        self.rng = np.random.default_rng(self.seed)

    def add(self, batch: pd.DataFrame, features: pd.DataFrame, labels: np.ndarray) -> None:
        """``batch`` and ``features`` are aligned row for row; ``labels`` are 0/1."""
        labels = np.asarray(labels, dtype=np.float64)
        keep = (labels > 0) | (self.rng.random(len(labels)) < self.rate)
        self.candidates += len(labels)
        self.positives += int((labels > 0).sum())
        frame = features[keep].reset_index(drop=True)
        frame.insert(0, "request_id", batch["request_id"][keep].to_numpy(dtype=object))
        frame["label"] = labels[keep]
        frame["weight"] = np.where(labels[keep] > 0, 1.0, 1.0 / self.rate)
        self.frames.append(frame)

    def examples(
        self, feature_names: Iterable[str], negatives_per_positive: int | None = None
    ) -> pd.DataFrame:
        """The kept rows; with ``negatives_per_positive``, negatives are thinned further to at
        most that many per positive (weights scaled up to match): a window with a few hundred
        saves learns nothing more from a hundred thousand negatives, and training time is
        proportional to rows."""
        columns = ["request_id", *feature_names, "label", "weight"]
        if not self.frames:
            return pd.DataFrame(columns=columns)
        examples = pd.concat(self.frames, ignore_index=True)[columns]
        if negatives_per_positive is None or self.positives == 0:
            return examples
        negative = examples["label"].to_numpy() <= 0
        cap = negatives_per_positive * self.positives
        if negative.sum() <= cap:
            return examples
        rate = cap / negative.sum()
        keep = ~negative | (self.rng.random(len(examples)) < rate)
        examples = examples[keep].reset_index(drop=True)
        thinned = examples["label"].to_numpy() <= 0
        examples.loc[thinned, "weight"] = examples.loc[thinned, "weight"] / rate
        return examples


def negative_rate(expected_candidates: int, max_rows: int) -> float:
    """The sampling rate that keeps about ``max_rows`` examples out of the expected candidates
    (1.0 when they fit)."""
    if expected_candidates <= max_rows:
        return 1.0
    return max_rows / expected_candidates


def save_model(
    folder: Path, trained: TrainedModel, spec: FeatureSpec, report: dict[str, object]
) -> None:
    """Booster, the feature spec it was trained with and the training report, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    trained.booster.save_model(folder / MODEL_FILE)
    (folder / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2))
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str))


def load_model(folder: Path) -> tuple[BoosterScorer, dict[str, object]]:
    """The scorer saved by ``save_model`` and its training report."""
    if not (folder / MODEL_FILE).exists():
        raise FileNotFoundError(
            f"{folder / MODEL_FILE} does not exist: materialize replay_model for this window first"
        )
    booster = xgb.Booster()
    booster.load_model(folder / MODEL_FILE)
    spec = FeatureSpec.from_dict(json.loads((folder / SPEC_FILE).read_text()))
    report = json.loads((folder / REPORT_FILE).read_text())
    return BoosterScorer(booster, spec, version=f"replay:{report['train_window']}"), report
