"""The world's hidden ground truth: what users really like and how good pins really are.

Kept apart from the contract tables (its own folder, its own reader) because a model that could
read it would be cheating: only the simulator and the offline evaluation may load it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pixie_assets.world.response import EngagementModel


class UnknownIdError(KeyError):
    """An id that the world never generated."""


def index_of(sorted_ids: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Positions of ``ids`` in the sorted id array; raises naming the first unknown id."""
    ids = np.asarray(ids, dtype=np.int64)
    position = np.searchsorted(sorted_ids, ids)
    position = np.minimum(position, len(sorted_ids) - 1)
    unknown = sorted_ids[position] != ids
    if unknown.any():
        raise UnknownIdError(f"{what} {int(ids[unknown][0])} is not in the world")
    return position


@dataclass
class WorldTruth:
    topics: tuple[str, ...]
    locales: tuple[str, ...]
    user_ids: np.ndarray  # int64, sorted
    user_locale: np.ndarray  # int16 codes into locales
    user_interest: np.ndarray  # float32 (n_users, n_topics), rows sum to 1
    user_activity: np.ndarray  # float32, relative visit rate (mean 1): who shows up each day
    pin_ids: np.ndarray  # int64, sorted
    pin_topic: np.ndarray  # int16 codes into topics
    pin_locale: np.ndarray  # int16 codes into locales
    pin_quality: np.ndarray  # float32 in (0, 1)
    engagement_model: EngagementModel

    def hidden_activity(self) -> pd.Series:
        """Each user's true visit rate (indexed by user_id): who shows up in world mode."""
        return pd.Series(self.user_activity.astype(np.float64), index=self.user_ids)

    def user_index(self, user_ids: np.ndarray) -> np.ndarray:
        return index_of(self.user_ids, user_ids, "user_id")

    def pin_index(self, pin_ids: np.ndarray) -> np.ndarray:
        return index_of(self.pin_ids, pin_ids, "pin_id")

    def interest_by_index(self, user: np.ndarray, pin: np.ndarray) -> np.ndarray:
        return self.user_interest[user, self.pin_topic[pin]]

    def action_probabilities_by_index(
        self, user: np.ndarray, pin: np.ndarray, position: np.ndarray | None = None
    ) -> np.ndarray:
        return self.engagement_model.action_probabilities(
            interest=self.interest_by_index(user, pin),
            quality=self.pin_quality[pin],
            locale_match=(self.user_locale[user] == self.pin_locale[pin]).astype(np.float64),
            position=position,
        )

    def action_probabilities(
        self, user_ids: np.ndarray, pin_ids: np.ndarray, position: np.ndarray | None = None
    ) -> np.ndarray:
        """P(save, click, closeup, hide) for showing each pin to each user at ``position``."""
        return self.action_probabilities_by_index(
            self.user_index(user_ids), self.pin_index(pin_ids), position
        )

    # --- persistence: plain .npy files so the simulator can memory-map them -------------------
    _ARRAYS = (
        "user_ids", "user_locale", "user_interest", "user_activity",
        "pin_ids", "pin_topic", "pin_locale", "pin_quality",
    )  # fmt: skip

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in self._ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        vocabulary = {"topics": list(self.topics), "locales": list(self.locales)}
        (directory / "vocabulary.json").write_text(json.dumps(vocabulary, indent=2) + "\n")
        (directory / "engagement_model.json").write_text(self.engagement_model.to_json() + "\n")

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> WorldTruth:
        if not (directory / "vocabulary.json").exists():
            raise FileNotFoundError(
                f"no world truth in {directory}: materialize the `world` asset first"
            )
        vocabulary = json.loads((directory / "vocabulary.json").read_text())
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None)
            for name in cls._ARRAYS
        }
        return cls(
            topics=tuple(vocabulary["topics"]),
            locales=tuple(vocabulary["locales"]),
            engagement_model=EngagementModel.from_json(
                (directory / "engagement_model.json").read_text()
            ),
            **arrays,
        )
