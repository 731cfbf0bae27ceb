"""A seeded synthetic Pinterest: users, pins, boards, saves and engagement history.

Why synthetic: every later stage (walks, labels, models, evaluation) needs data whose ground truth
is known, so that "the model beats visit count" can be checked against what users really want.
The generative story, in order:

1. Topics have Zipf-like popularity; users have a sparse Dirichlet interest over topics, a locale
   (one large locale, a tail of small ones) and a log-normal, heavy-tailed activity level.
2. Pins have a topic, a locale (skewed towards the large locale even more than users), a quality
   and a Pareto popularity, so a few pins collect most saves.
3. Each saving user owns boards; a board takes its topic from its owner's interests, except a
   minority of deliberately mixed boards (topic NULL) that pruning should remove. Boards have a
   Pareto attractiveness, so board sizes are heavy-tailed too.
4. A save picks one of the user's boards, then a pin of the board's topic (a little off-topic
   noise; mixed boards draw topics broadly), mostly in the user's locale, by popularity.
5. The engagement history of the last weeks holds every recent save plus clicks, closeups and
   hides drawn by the hidden engagement model from exposures that follow the user's interests.

Everything is drawn from one ``numpy.random.Generator`` in a fixed order, so the same seed and
scale give the same arrays, and the writer turns those into byte-identical Parquet files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pixie_assets.core import contract
from pixie_assets.world.response import EngagementModel
from pixie_assets.world.spec import (
    CLIENT_NAMES,
    HISTORY_CLIENT_SHARES,
    LOCALES,
    TOPICS,
    USER_LOCALE_SHARES,
    WorldScale,
    scale_named,
)
from pixie_assets.world.truth import WorldTruth

log = logging.getLogger(__name__)

US_PER_DAY = 86_400 * 1_000_000

# Shape parameters of the world (see the module docstring for what each one shapes).
TOPIC_ZIPF_EXPONENT = 1.0
INTEREST_CONCENTRATION = 0.12  # Dirichlet concentration per topic: small = few topics per user
ACTIVITY_SIGMA = 1.3  # log-normal spread of user activity
PIN_LOCALE_SKEW = 1.5  # pins lean to the large locale more than users do
PIN_POPULARITY_TAIL = 1.4  # Pareto shape: smaller = heavier tail
BOARD_ATTRACTIVENESS_TAIL = 1.2
BOARDS_PER_SQRT_SAVE = 0.5
SAVE_IN_USER_LOCALE = 0.75
OFF_TOPIC_SAVE_SHARE = 0.05
EXPOSURES_FROM_INTERESTS = 0.6


@dataclass
class World:
    """The contract tables plus the hidden truth that generated them."""

    scale: WorldScale
    seed: int
    start_day: date
    tables: dict[str, pa.Table]
    truth: WorldTruth


def generate_world(
    scale: WorldScale | str,
    seed: int,
    start_day: date,
    progress: Callable[[str], None] | None = None,
) -> World:
    """Generate a world whose history ends just before ``start_day`` (the first day partition)."""
    scale = scale_named(scale) if isinstance(scale, str) else scale
    say = progress or log.info
    rng = np.random.default_rng(seed)
    start_us = _day_start_us(start_day)
    n_topics, n_locales = len(TOPICS), len(LOCALES)
    topic_popularity = _zipf_shares(n_topics, TOPIC_ZIPF_EXPONENT)

    say(f"world[{scale.name}]: {scale.n_users:,} users")
    users = _make_users(rng, scale, start_us, topic_popularity)
    say(f"world[{scale.name}]: {scale.n_pins:,} pins")
    pins = _make_pins(rng, scale, start_us, topic_popularity)
    sampler = _PinSampler(pins["topic"], pins["locale"], pins["popularity"], n_topics, n_locales)

    saves_per_user = rng.multinomial(scale.n_saves, users["activity"] / users["activity"].sum())
    boards = _make_boards(rng, scale, users, saves_per_user)
    say(f"world[{scale.name}]: {len(boards['board_id']):,} boards, {scale.n_saves:,} saves")
    saves = _make_saves(rng, scale, start_us, users, pins, boards, saves_per_user, sampler, say)

    model = EngagementModel(n_topics=n_topics)
    truth = WorldTruth(
        topics=TOPICS,
        locales=LOCALES,
        user_ids=users["user_id"],
        user_locale=users["locale"],
        user_interest=users["interest"],
        user_activity=(users["activity"] / users["activity"].mean()).astype(np.float32),
        pin_ids=pins["pin_id"],
        pin_topic=pins["topic"],
        pin_locale=pins["locale"],
        pin_quality=pins["quality"],
        engagement_model=model,
    )
    say(f"world[{scale.name}]: engagement history of {scale.engagement_days} days")
    engagements = _make_engagement_history(rng, scale, start_us, users, saves, sampler, truth)

    tables = {
        "users": _users_table(users),
        "pins": _pins_table(pins),
        "boards": _boards_table(boards, users["user_id"]),
        "saves": _saves_table(saves, users["user_id"], pins["pin_id"], boards["board_id"]),
        "engagements": engagements,
    }
    return World(scale=scale, seed=seed, start_day=start_day, tables=tables, truth=truth)


# --- helpers: ids, time, sampling -----------------------------------------------------------


def _day_start_us(day: date) -> int:
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(midnight.timestamp()) * 1_000_000


def _zipf_shares(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + 3.0) ** exponent
    return weights / weights.sum()


def _sparse_ids(rng: np.random.Generator, n: int, base: int, max_gap: int) -> np.ndarray:
    """Sorted unique ids with random gaps: real ids are not 0..n-1, and code that confuses an id
    with an index should fail on the world, not in production."""
    return base + np.cumsum(rng.integers(1, max_gap + 1, size=n, dtype=np.int64))


def _sample_rows(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One category per entry of ``rows`` from the row-wise cumulative distributions."""
    u = rng.random(len(rows), dtype=np.float32)[:, None]
    picked = (cumulative[rows] < u).sum(axis=1)
    return np.minimum(picked, cumulative.shape[1] - 1).astype(np.int16)


class _PinSampler:
    """Draws pins of a given (topic, locale) in proportion to popularity in O(log n) each,
    falling back to the topic alone where a small locale has no pin of that topic."""

    def __init__(
        self,
        topic: np.ndarray,
        locale: np.ndarray,
        popularity: np.ndarray,
        n_topics: int,
        n_locales: int,
    ) -> None:
        self.n_locales = n_locales
        group = topic.astype(np.int64) * n_locales + locale
        self.order = np.argsort(group, kind="stable")  # over pins, once; not over edges
        self.cumulative = np.concatenate([[0.0], np.cumsum(popularity[self.order])])
        counts = np.bincount(group, minlength=n_topics * n_locales)
        self.group_end = np.cumsum(counts)
        self.group_start = self.group_end - counts
        per_topic = counts.reshape(n_topics, n_locales).sum(axis=1)
        self.topic_end = np.cumsum(per_topic)
        self.topic_start = self.topic_end - per_topic

    def sample(self, rng: np.random.Generator, topic: np.ndarray, locale: np.ndarray) -> np.ndarray:
        group = topic.astype(np.int64) * self.n_locales + locale
        lo, hi = self.group_start[group], self.group_end[group]
        empty = lo == hi
        lo = np.where(empty, self.topic_start[topic], lo)
        hi = np.where(empty, self.topic_end[topic], hi)
        return self._between(rng, lo, hi)

    def sample_any(self, rng: np.random.Generator, n: int) -> np.ndarray:
        lo = np.zeros(n, dtype=np.int64)
        hi = np.full(n, len(self.order), dtype=np.int64)
        return self._between(rng, lo, hi)

    def _between(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        base = self.cumulative[lo]
        target = base + rng.random(len(lo)) * (self.cumulative[hi] - base)
        position = np.searchsorted(self.cumulative, target, side="right") - 1
        return self.order[np.clip(position, lo, hi - 1)]


# --- entities --------------------------------------------------------------------------------


def _make_users(
    rng: np.random.Generator, scale: WorldScale, start_us: int, topic_popularity: np.ndarray
) -> dict[str, np.ndarray]:
    n = scale.n_users
    user_id = _sparse_ids(rng, n, base=100_000_000, max_gap=9)
    locale = rng.choice(len(LOCALES), size=n, p=np.asarray(USER_LOCALE_SHARES)).astype(np.int16)
    created_at = start_us - (rng.uniform(30, 1_500, size=n) * US_PER_DAY).astype(np.int64)
    shape = INTEREST_CONCENTRATION * len(topic_popularity) * topic_popularity
    interest = rng.gamma(shape, size=(n, len(topic_popularity))) + 1e-12
    interest = (interest / interest.sum(axis=1, keepdims=True)).astype(np.float32)
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, size=n)
    return {
        "user_id": user_id,
        "locale": locale,
        "created_at": created_at,
        "interest": interest,
        "interest_cumulative": np.cumsum(interest, axis=1),
        "activity": activity,
    }


def _make_pins(
    rng: np.random.Generator, scale: WorldScale, start_us: int, topic_popularity: np.ndarray
) -> dict[str, np.ndarray]:
    n = scale.n_pins
    pin_id = _sparse_ids(rng, n, base=5_000_000_000, max_gap=13)
    topic = rng.choice(len(TOPICS), size=n, p=topic_popularity).astype(np.int16)
    locale_shares = np.asarray(USER_LOCALE_SHARES) ** PIN_LOCALE_SKEW
    locale = rng.choice(len(LOCALES), size=n, p=locale_shares / locale_shares.sum())
    quality = rng.beta(2.0, 3.0, size=n).astype(np.float32)
    popularity = (rng.pareto(PIN_POPULARITY_TAIL, size=n) + 1.0) * (0.2 + quality)
    age_days = rng.uniform(1, scale.history_days + 180, size=n)
    created_at = start_us - (age_days * US_PER_DAY).astype(np.int64)
    return {
        "pin_id": pin_id,
        "topic": topic,
        "locale": locale.astype(np.int16),
        "quality": quality,
        "popularity": popularity,
        "created_at": created_at,
    }


def _make_boards(
    rng: np.random.Generator,
    scale: WorldScale,
    users: dict[str, np.ndarray],
    saves_per_user: np.ndarray,
) -> dict[str, np.ndarray]:
    n_boards = np.where(
        saves_per_user > 0,
        1 + rng.poisson(BOARDS_PER_SQRT_SAVE * np.sqrt(saves_per_user)),
        (rng.random(len(saves_per_user)) < 0.05).astype(np.int64),  # a few empty boards
    )
    owner = np.repeat(np.arange(len(n_boards), dtype=np.int64), n_boards)
    end = np.cumsum(n_boards)
    topic = _sample_rows(rng, users["interest_cumulative"], owner)
    mixed = rng.random(len(owner)) < scale.mixed_board_share
    attractiveness = rng.pareto(BOARD_ATTRACTIVENESS_TAIL, size=len(owner)) + 1.0
    return {
        "board_id": _sparse_ids(rng, len(owner), base=900_000_000_000, max_gap=7),
        "owner": owner,
        "topic": np.where(mixed, -1, topic).astype(np.int16),
        "cumulative_attractiveness": np.concatenate([[0.0], np.cumsum(attractiveness)]),
        "user_start": end - n_boards,
        "user_end": end,
    }


def _make_saves(
    rng: np.random.Generator,
    scale: WorldScale,
    start_us: int,
    users: dict[str, np.ndarray],
    pins: dict[str, np.ndarray],
    boards: dict[str, np.ndarray],
    saves_per_user: np.ndarray,
    sampler: _PinSampler,
    say: Callable[[str], None],
) -> dict[str, np.ndarray]:
    """Saves as index arrays (user, pin, board) plus ``saved_at``, generated in chunks so the
    large world's peak memory stays a few GiB above its output."""
    save_user = np.repeat(np.arange(scale.n_users, dtype=np.int32), saves_per_user)
    parts: list[dict[str, np.ndarray]] = []
    n_topics = len(TOPICS)
    for lo in range(0, len(save_user), scale.chunk_saves):
        user = save_user[lo : lo + scale.chunk_saves]
        n = len(user)
        board = _pick_board(rng, boards, user)
        board_topic = boards["topic"][board]
        from_interest = _sample_rows(rng, users["interest_cumulative"], user)
        uniform_topic = rng.integers(0, n_topics, size=n, dtype=np.int16)
        roll = rng.random(n)
        # mixed boards: half from the owner's interests, half anything; topic boards: a little
        # off-topic noise from the owner's interests.
        topic = np.where(
            board_topic < 0,
            np.where(roll < 0.5, from_interest, uniform_topic),
            np.where(roll < OFF_TOPIC_SAVE_SHARE, from_interest, board_topic),
        ).astype(np.int16)
        pin_locale_shares = np.bincount(pins["locale"], minlength=len(LOCALES)) / scale.n_pins
        other_locale = rng.choice(len(LOCALES), size=n, p=pin_locale_shares).astype(np.int16)
        locale = np.where(
            rng.random(n) < SAVE_IN_USER_LOCALE, users["locale"][user], other_locale
        ).astype(np.int16)
        pin = sampler.sample(rng, topic, locale)
        created = pins["created_at"][pin]
        saved_at = created + (rng.random(n) * (start_us - 1_000_000 - created)).astype(np.int64)
        parts.append({"user": user, "pin": pin, "board": board, "saved_at": saved_at})
        if len(save_user) > scale.chunk_saves:
            say(f"saves: {lo + n:,}/{len(save_user):,}")
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _pick_board(
    rng: np.random.Generator, boards: dict[str, np.ndarray], user: np.ndarray
) -> np.ndarray:
    """One of the user's own boards, in proportion to board attractiveness."""
    lo, hi = boards["user_start"][user], boards["user_end"][user]
    cumulative = boards["cumulative_attractiveness"]
    base = cumulative[lo]
    target = base + rng.random(len(user)) * (cumulative[hi] - base)
    position = np.searchsorted(cumulative, target, side="right") - 1
    return np.clip(position, lo, hi - 1)


def _make_engagement_history(
    rng: np.random.Generator,
    scale: WorldScale,
    start_us: int,
    users: dict[str, np.ndarray],
    saves: dict[str, np.ndarray],
    sampler: _PinSampler,
    truth: WorldTruth,
) -> pa.Table:
    """Recent saves as ``save`` engagements, plus clicks, closeups and hides that the hidden
    model draws on exposures. History carries no request_id: it predates serving-stage logs."""
    window_start = start_us - scale.engagement_days * US_PER_DAY
    recent = saves["saved_at"] >= window_start
    save_rows = {
        "user": saves["user"][recent].astype(np.int64),
        "pin": saves["pin"][recent],
        "action": np.zeros(int(recent.sum()), dtype=np.int8),  # ACTIONS[0] == "save"
        "ts": saves["saved_at"][recent],
    }

    relative_activity = np.minimum(users["activity"] / users["activity"].mean(), 20.0)
    exposures = rng.poisson(scale.exposures_per_user * relative_activity)
    exposed_user = np.repeat(np.arange(scale.n_users, dtype=np.int64), exposures)
    n = len(exposed_user)
    from_interests = rng.random(n) < EXPOSURES_FROM_INTERESTS
    topic = _sample_rows(rng, users["interest_cumulative"], exposed_user)
    locale = np.where(rng.random(n) < SAVE_IN_USER_LOCALE, users["locale"][exposed_user], 0).astype(
        np.int16
    )
    pin = np.where(from_interests, sampler.sample(rng, topic, locale), sampler.sample_any(rng, n))
    probabilities = truth.action_probabilities_by_index(exposed_user, pin)
    action = truth.engagement_model.sample_actions(probabilities, rng)
    keep = action > 0  # saves come from the saves table; "none" is not an engagement
    exposure_rows = {
        "user": exposed_user[keep],
        "pin": pin[keep],
        "action": action[keep].astype(np.int8),
        "ts": start_us - (rng.random(int(keep.sum())) * (start_us - window_start)).astype(np.int64),
    }

    rows = {k: np.concatenate([save_rows[k], exposure_rows[k]]) for k in save_rows}
    client = rng.choice(
        len(CLIENT_NAMES), size=len(rows["ts"]), p=np.asarray(HISTORY_CLIENT_SHARES)
    )
    order = np.lexsort((rows["pin"], rows["user"], rows["ts"]))
    action_names = np.asarray(contract.ACTIONS, dtype=object)
    client_names = np.asarray(CLIENT_NAMES, dtype=object)
    return pa.table(
        {
            "user_id": truth.user_ids[rows["user"][order]],
            "pin_id": truth.pin_ids[rows["pin"][order]],
            "action": pa.array(action_names[rows["action"][order]], pa.string()),
            "client": pa.array(client_names[client[order]], pa.string()),
            "request_id": pa.nulls(len(order), pa.string()),
            "ts": pa.array(rows["ts"][order], contract.TIMESTAMP),
        },
        schema=contract.ENGAGEMENTS,
    )


# --- contract tables -------------------------------------------------------------------------


def _strings(codes: np.ndarray, vocabulary: tuple[str, ...]) -> pa.Array:
    """Vocabulary lookup through a dictionary array: fast even for 10M rows."""
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(vocabulary)
    )
    return dictionary.cast(pa.string())


def _users_table(users: dict[str, np.ndarray]) -> pa.Table:
    return pa.table(
        {
            "user_id": users["user_id"],
            "locale": _strings(users["locale"], LOCALES),
            "created_at": pa.array(users["created_at"], contract.TIMESTAMP),
        },
        schema=contract.USERS,
    )


def _pins_table(pins: dict[str, np.ndarray]) -> pa.Table:
    return pa.table(
        {
            "pin_id": pins["pin_id"],
            "locale": _strings(pins["locale"], LOCALES),
            "topic": _strings(pins["topic"], TOPICS),
            "created_at": pa.array(pins["created_at"], contract.TIMESTAMP),
        },
        schema=contract.PINS,
    )


def _boards_table(boards: dict[str, np.ndarray], user_ids: np.ndarray) -> pa.Table:
    topic = boards["topic"]
    mixed = topic < 0
    topic_names = _strings(np.where(mixed, 0, topic), TOPICS)
    topic_names = pc.if_else(pa.array(mixed), pa.scalar(None, pa.string()), topic_names)
    return pa.table(
        {
            "board_id": boards["board_id"],
            "owner_id": user_ids[boards["owner"]],
            "topic": topic_names,
        },
        schema=contract.BOARDS,
    )


def _saves_table(
    saves: dict[str, np.ndarray], user_ids: np.ndarray, pin_ids: np.ndarray, board_ids: np.ndarray
) -> pa.Table:
    return pa.table(
        {
            "user_id": user_ids[saves["user"]],
            "pin_id": pin_ids[saves["pin"]],
            "board_id": board_ids[saves["board"]],
            "saved_at": pa.array(saves["saved_at"], contract.TIMESTAMP),
        },
        schema=contract.SAVES,
    )
