"""Which model serves a day × client partition, so that history is not rewritten.

A first run serves with the client's ``@champion`` (visit count until there is one). The model
that served is logged in every serving_log row (``model_version``), so the partition records it;
a re-run of that partition — a backfill, a retry — serves with the recorded model again, and its
logs come out byte for byte as before. Serving an old day with another model is a deliberate act:
an explicit override, whose reason the run records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from pixie_assets.core.settings import Settings
from pixie_assets.landing import data_files, partition_dir
from pixie_assets.serving.scoring import VISIT_COUNT_VERSION, Scorer, VisitCountScorer
from pixie_assets.training.registry import load_scorer, serving_scorer
from pixie_assets.training.tracking import CHAMPION, registered_model_name

# What ``model`` may say: the alias, visit count, or a model_version label / version number.
CURRENT_CHAMPION = CHAMPION


class ServingModelError(ValueError):
    """The partition's serving model cannot be determined or loaded; the message says why."""


@dataclass(frozen=True)
class ServingChoice:
    """The model to serve with (``CURRENT_CHAMPION``, ``visit_count`` or a model_version label
    or number) and why, for the run's metadata."""

    model: str
    reason: str


def served_version(landing_dir: Path, day: date | str, client: str) -> str | None:
    """The ``model_version`` that served the partition's landing serving_log, or None when the
    partition was never served. A partition served by several models (an online service that
    swapped mid-day) has no one version to reproduce: that is an error asking for an override."""
    files = data_files(partition_dir(landing_dir, "serving_log", day, client))
    if not files:
        return None
    versions = set()
    for path in files:
        column = pq.read_table(path, columns=["model_version"])["model_version"]
        versions.update(column.unique().to_pylist())
    if len(versions) > 1:
        raise ServingModelError(
            f"{partition_dir(landing_dir, 'serving_log', day, client)} was served by several "
            f"models ({', '.join(sorted(versions))}); re-serve it with an explicit model_version"
        )
    return versions.pop() if versions else None


def choose_serving_model(recorded: str | None, requested: str = "") -> ServingChoice:
    """An explicit request wins; otherwise the recorded model; otherwise the champion."""
    if requested:
        before = f", was {recorded}" if recorded else ""
        return ServingChoice(requested, f"override: model_version={requested!r}{before}")
    if recorded:
        return ServingChoice(recorded, f"re-run: the version recorded in serving_log ({recorded})")
    return ServingChoice(CURRENT_CHAMPION, "first serve: the client's @champion")


def serving_scorer_for(settings: Settings, client: str, model: str) -> Scorer:
    """The scorer ``model`` names: ``champion`` (alias), ``visit_count``, a version number, or
    a serving_log label ``pixie-lightweight-<client>/<version>``."""
    if model == CURRENT_CHAMPION:
        return serving_scorer(settings, client)
    if model == VISIT_COUNT_VERSION:
        return VisitCountScorer()
    name, _, version = model.rpartition("/")
    if name and name != registered_model_name(client):
        raise ServingModelError(
            f"model_version {model!r} is a model of another client; {client}'s is "
            f"{registered_model_name(client)}"
        )
    if not version.isdigit():
        raise ServingModelError(
            f"model_version {model!r} is not 'champion', 'visit_count', a version number or "
            f"'{registered_model_name(client)}/<version>'"
        )
    return load_scorer(settings, client, version)
