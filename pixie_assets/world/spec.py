"""Sizes and vocabularies of the synthetic world.

The shares below are the shape we want the world to have, not measurements of Pinterest:
one dominant locale and a tail of small ones, a few topics that dominate the corpus, and a
minority of boards that mix topics so that board pruning has something to remove.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixie_assets.core.clients import CLIENTS

TOPICS: tuple[str, ...] = (
    "home_decor", "recipes", "womens_fashion", "diy_crafts", "travel", "beauty", "weddings",
    "gardening", "quotes", "art", "hair", "fitness", "mens_fashion", "photography", "kids",
    "animals", "architecture", "illustration", "tattoos", "cars", "tech", "gaming", "humor",
    "education", "health", "sports", "outdoors", "music", "film", "books", "holidays", "design",
)  # fmt: skip

LOCALES: tuple[str, ...] = ("en-US", "pt-BR", "de-DE", "fr-FR", "ja-JP", "es-ES")
USER_LOCALE_SHARES: tuple[float, ...] = (0.56, 0.14, 0.10, 0.08, 0.07, 0.05)

CLIENT_NAMES: tuple[str, ...] = tuple(CLIENTS)
# Which surface a historical engagement came from.
HISTORY_CLIENT_SHARES: tuple[float, ...] = (0.65, 0.28, 0.07)


@dataclass(frozen=True)
class WorldScale:
    """How big a world to make. ``history_days`` of saves precede the first day partition."""

    name: str
    n_users: int
    n_pins: int
    n_saves: int
    history_days: int = 365
    engagement_days: int = 28
    exposures_per_user: float = 60.0  # mean history exposures that may turn into engagements
    mixed_board_share: float = 0.10
    chunk_saves: int = 4_000_000  # bounds peak memory of the large world


SCALES: dict[str, WorldScale] = {
    "tiny": WorldScale("tiny", n_users=2_000, n_pins=12_000, n_saves=60_000),
    "demo": WorldScale("demo", n_users=20_000, n_pins=200_000, n_saves=1_000_000),
    "large": WorldScale(
        "large", n_users=1_000_000, n_pins=10_000_000, n_saves=100_000_000, exposures_per_user=20.0
    ),
}


def scale_named(name: str) -> WorldScale:
    try:
        return SCALES[name]
    except KeyError:
        raise ValueError(
            f"unknown world scale {name!r}; choose one of {', '.join(SCALES)}"
        ) from None
