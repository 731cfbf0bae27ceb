"""The hidden engagement model: how a user responds to a pin they are shown.

It is a multinomial logit over {no action, save, click, closeup, hide} whose utilities rise with
the user's interest in the pin's topic, the pin's quality and a locale match, and fall with the
position the pin is shown at. One action at most per impression keeps the simulation simple and
makes "expected actions per request" well defined. Only the simulator and the evaluation may use
it; models must learn it from logs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from pixie_assets.core.contract import ACTIONS

INTEREST_FLOOR = 1e-3


def _per_action(save: float, click: float, closeup: float, hide: float) -> dict[str, float]:
    return {"save": save, "click": click, "closeup": closeup, "hide": hide}


@dataclass(frozen=True)
class EngagementModel:
    intercept: dict[str, float] = field(default_factory=lambda: _per_action(-5.2, -4.0, -3.7, -5.2))
    interest: dict[str, float] = field(default_factory=lambda: _per_action(0.9, 0.7, 0.6, -0.7))
    quality: dict[str, float] = field(default_factory=lambda: _per_action(1.2, 0.8, 1.0, -1.2))
    locale_match: dict[str, float] = field(default_factory=lambda: _per_action(0.7, 0.6, 0.4, -0.4))
    position: float = -0.04  # utility lost per position further down the feed
    n_topics: int = 32

    def interest_signal(self, interest: np.ndarray) -> np.ndarray:
        """Interest relative to a uniform user, on a log scale: 0 means "as interested as
        anyone", +log(n_topics) means "this is all they care about"."""
        return np.log(np.maximum(interest, INTEREST_FLOOR) * self.n_topics)

    def action_probabilities(
        self,
        interest: np.ndarray,
        quality: np.ndarray,
        locale_match: np.ndarray,
        position: np.ndarray | None = None,
    ) -> np.ndarray:
        """Probabilities of each action in ``ACTIONS`` order, shape (n, 4); rows sum to < 1, the
        rest being "no action"."""
        signal = self.interest_signal(np.asarray(interest, dtype=np.float64))
        q = np.clip(np.asarray(quality, dtype=np.float64), 1e-4, 1 - 1e-4)
        quality_logit = np.log(q / (1 - q))
        match = np.asarray(locale_match, dtype=np.float64)
        pos = 0.0 if position is None else np.asarray(position, dtype=np.float64)
        utilities = np.stack(
            [
                self.intercept[a]
                + self.interest[a] * signal
                + self.quality[a] * quality_logit
                + self.locale_match[a] * match
                + (self.position * pos if a != "hide" else 0.0)
                for a in ACTIONS
            ],
            axis=1,
        )
        expu = np.exp(utilities)
        return expu / (1.0 + expu.sum(axis=1, keepdims=True))

    def sample_actions(self, probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Index into ``ACTIONS`` of the action taken, or -1 for none."""
        cumulative = np.cumsum(probabilities, axis=1)
        u = rng.random(len(probabilities))[:, None]
        taken = (u < cumulative).argmax(axis=1)
        return np.where(u[:, 0] < cumulative[:, -1], taken, -1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EngagementModel:
        return cls(**json.loads(text))
