"""What a replay window knows and what it is judged on: requests, engaged pins and positives.

For a window W (``start``..``end``), with only events before ``start`` known:

- *request*: one per user with at least one engagement before ``start`` (any action). Its query
  pins depend on the candidate source (``candidates.request_queries``), over all the user's
  history, not only serving's 28-day lookback, so that every user with history starts from
  their last engaged pins. A user whose history holds only hides is still a request; it simply
  gets no walk candidates.
- *engaged*: every (user, pin) with an engagement (any action, hides included) or a save before
  ``start``. These pins are never recommended to that user and never count as positives: the
  saves table holds history older than the engagement log, and re-saving an old pin is not a
  discovery.
- *positives*: distinct (user, pin) saved during W by a request user, on a pin they had not
  engaged with before ``start``. Saves of users without history (cold start) and re-saves of
  engaged pins are counted for the report, not judged. Exact duplicate engagement rows are
  legitimate (the same action twice); they add weight to a query pin like any repeated action.

(user, pin) pairs are handled as int64 keys over the ids seen in the window's data, so that
membership tests over millions of candidates are sorted-array lookups, not joins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pixie_assets.replay.window import ReplayWindow


class PairCodec:
    """(user_id, pin_id) ↔ one int64 key, over fixed id universes (sorted unique arrays)."""

    def __init__(self, user_ids: np.ndarray, pin_ids: np.ndarray) -> None:
        self.users = np.unique(np.asarray(user_ids, dtype=np.int64))
        self.pins = np.unique(np.asarray(pin_ids, dtype=np.int64))

    @staticmethod
    def _codes(universe: np.ndarray, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.int64)
        if len(universe) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        position = np.searchsorted(universe, values)
        clipped = np.minimum(position, len(universe) - 1)
        return np.where(universe[clipped] == values, clipped, -1).astype(np.int64)

    def user_codes(self, user_ids: np.ndarray) -> np.ndarray:
        """Code of each user id, -1 for ids outside the universe."""
        return self._codes(self.users, user_ids)

    def encode(self, user_ids: np.ndarray, pin_ids: np.ndarray) -> np.ndarray:
        """Key of each pair; -1 where the user or the pin is outside the universe (such a pair
        cannot be in any set built from the universe)."""
        user = self._codes(self.users, user_ids)
        pin = self._codes(self.pins, pin_ids)
        return np.where((user >= 0) & (pin >= 0), user * len(self.pins) + pin, -1)

    def user_of(self, keys: np.ndarray) -> np.ndarray:
        """User code of each key."""
        return np.asarray(keys, dtype=np.int64) // max(len(self.pins), 1)


@dataclass(frozen=True)
class PairSet:
    """A set of pair keys, sorted, for vectorised membership."""

    keys: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> PairSet:
        keys = np.asarray(keys, dtype=np.int64)
        return cls(np.unique(keys[keys >= 0]))

    def contains(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64)
        if len(self.keys) == 0:
            return np.zeros(len(keys), dtype=bool)
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return (self.keys[position] == keys) & (keys >= 0)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class WindowHistory:
    """One window's requests, engaged pairs and positives (see the module docstring).

    ``requests``: request_idx (dense, by user id; also the walk's RNG stream key), request_id,
    user_id, engaged (count of the user's engaged pins). ``positives``: user_id, pin_id, key."""

    window: ReplayWindow
    codec: PairCodec
    requests: pd.DataFrame
    engaged: PairSet
    positives: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def positive_set(self) -> PairSet:
        return PairSet.of(self.positives["key"].to_numpy())


def build_window_history(
    window: ReplayWindow,
    saves: pd.DataFrame,
    engagements: pd.DataFrame,
) -> WindowHistory:
    """Requests, engaged pairs and positives of ``window`` from saves (user_id, pin_id,
    saved_at) and engagements (user_id, pin_id, action, ts); rows after the window are
    ignored, so callers may pass more."""
    start = pd.Timestamp(window.start)
    stop = pd.Timestamp(window.stop)
    history = engagements[engagements["ts"] < start]
    past_saves = saves[saves["saved_at"] < start]
    in_window = saves[(saves["saved_at"] >= start) & (saves["saved_at"] < stop)]

    codec = PairCodec(
        np.concatenate([engagements["user_id"].to_numpy(), saves["user_id"].to_numpy()]),
        np.concatenate([engagements["pin_id"].to_numpy(), saves["pin_id"].to_numpy()]),
    )
    engaged_keys = np.concatenate(
        [
            codec.encode(history["user_id"].to_numpy(), history["pin_id"].to_numpy()),
            codec.encode(past_saves["user_id"].to_numpy(), past_saves["pin_id"].to_numpy()),
        ]
    )
    engaged = PairSet.of(engaged_keys)

    users = np.unique(history["user_id"].to_numpy().astype(np.int64))
    requests = pd.DataFrame(
        {
            "request_idx": np.arange(len(users), dtype=np.int64),
            "request_id": [f"replay:{window.start.isoformat()}:{u}" for u in users],
            "user_id": users,
        }
    )
    engaged_per_user = np.bincount(codec.user_of(engaged.keys), minlength=len(codec.users)).astype(
        np.int64
    )
    requests["engaged"] = engaged_per_user[codec.user_codes(users)]

    window_keys = codec.encode(in_window["user_id"].to_numpy(), in_window["pin_id"].to_numpy())
    has_history = np.isin(in_window["user_id"].to_numpy(), users)
    already = engaged.contains(window_keys)
    keep = has_history & ~already
    positive_keys = np.unique(window_keys[keep])
    pins = codec.pins[positive_keys % max(len(codec.pins), 1)]
    positives = pd.DataFrame(
        {
            "user_id": codec.users[codec.user_of(positive_keys)],
            "pin_id": pins,
            "key": positive_keys,
        }
    )
    counts = {
        "window_saves": len(in_window),
        "cold_start_saves": int((~has_history).sum()),
        "repeat_saves": int((has_history & already).sum()),
        "requests": len(requests),
        "positives": len(positives),
        "users_with_positives": int(positives["user_id"].nunique()),
    }
    return WindowHistory(window, codec, requests, engaged, positives, counts)
