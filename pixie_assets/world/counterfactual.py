"""The counterfactual replay of world mode: had this ranker served the day, what would users have
done? Every logged request is replayed with the ranker's own top M through the same full ranker
and user model that produced the logs, and the world's truth gives the expected actions.

It lives in the world because only the world may read the hidden truth. Training asks for it
through the ``Simulate`` callable of ``training.evaluation.evaluate_rankers``: the world builds
one per (day, client) (``evaluation_simulator``), landing mode passes None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pixie_assets.core.clients import ClientConfig
from pixie_assets.core.contract import ACTIONS
from pixie_assets.core.seeds import partition_seed
from pixie_assets.core.settings import Settings
from pixie_assets.training.evaluation import Simulate, primary_name, top_m
from pixie_assets.world.simulator import expected_actions, run_full_ranker
from pixie_assets.world.truth import WorldTruth

# The purpose salted into the seed of the replay's full-ranker noise: the same for every ranker of
# a day, so rankers meet the same full ranker and differ only in what they send it.
EVALUATION_PURPOSE = "evaluation"


def simulated_metrics(
    truth: WorldTruth, config: ClientConfig, outcomes: pd.DataFrame, scores: np.ndarray, seed: int
) -> dict[str, float]:
    """Expected actions per request if this ranker had served the day: ``sim/<action>_per_
    request`` for every action, the client's primary actions summed under their own name and
    under ``sim/primary_per_request``."""
    sent = top_m(outcomes, scores, config.full_ranker_m)
    shown = run_full_ranker(truth, config, sent, seed).shown
    expected = expected_actions(truth, shown)
    requests = max(outcomes["request_id"].nunique(), 1)
    out = {
        f"sim/{a}_per_request": float(expected[:, i].sum() / requests)
        for i, a in enumerate(ACTIONS)
    }
    primary = sum(out[f"sim/{a}_per_request"] for a in config.primary_actions)
    out[f"sim/{primary_name(config)}_per_request"] = primary
    out["sim/primary_per_request"] = primary
    return out


@dataclass(frozen=True)
class CounterfactualSimulator:
    """A ``Simulate`` for one (day, client): the truth, the client's funnel and the day's seed
    bound, so that evaluation only hands over the logged candidates and a ranker's scores."""

    truth: WorldTruth
    config: ClientConfig
    seed: int

    def __call__(self, outcomes: pd.DataFrame, scores: np.ndarray) -> dict[str, float]:
        return simulated_metrics(self.truth, self.config, outcomes, scores, self.seed)


def evaluation_simulator(settings: Settings, config: ClientConfig, day: date) -> Simulate | None:
    """The simulator model_evaluation and the strategy study judge ``day`` of a client with: a
    ``CounterfactualSimulator`` in world mode, None where the logs come from elsewhere."""
    if settings.source != "world":
        return None
    seed = partition_seed(settings.world_seed, day, config.name, EVALUATION_PURPOSE)
    return CounterfactualSimulator(WorldTruth.load(settings.truth_dir), config, seed)
