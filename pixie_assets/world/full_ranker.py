"""The simulated full ranker: a strong but imperfect teacher.

Pinterest's full ranker is a large neural network that predicts engagement from rich features. In
world mode it is played by the hidden truth itself — each candidate's expected value of actions
for the surface (the client's action values over the true action probabilities) — seen through
log-normal noise, so it is good without being an oracle. Distillation learns its scores.
"""

from __future__ import annotations

import numpy as np

from pixie_assets.core.contract import ACTIONS
from pixie_assets.world.truth import WorldTruth

DEFAULT_NOISE = 0.5


def expected_action_value(
    truth: WorldTruth,
    user_ids: np.ndarray,
    pin_ids: np.ndarray,
    action_values: dict[str, float],
    position: np.ndarray | None = None,
) -> np.ndarray:
    probabilities = truth.action_probabilities(user_ids, pin_ids, position)
    values = np.array([action_values.get(a, 0.0) for a in ACTIONS])
    return probabilities @ values
