"""A hand-built landing folder small enough to replay by hand (the README's worked example).

Pins (id: topic) and boards (id: pins), all saved on day 0 by board owners (users 201-204):

    cats  q=11 x=12 y=13 z=14     A1=501 {q, x}   A2=502 {q, y}   A3=503 {q, y, z}
    cars  r=21 s=22 t=23          B1=511 {r, s}   B2=512 {r, s, t}
    memes w=31                    521..525 {w}         (5 saves: the most popular pin)
    quotes f=41..55               700..759: each f alone on 4 boards (popular, unreachable)
    art   99 (never saved)        599 (a board with no pins)

Walking from q, pins are visited y > x > z (y shares two boards with q, x one; z only through
the three-pin board); from r, s > t. Events (offsets are days from ``base``):

    day 4  engagements: 101 click q; 102 click q, closeup x; 103 hide r; 105 click r;
           106 click q twice (an exact duplicate row: legitimate); 107 click q
    day 5  engagements: 108 click r (a file directly in the day folder, no client=)
    day 7  saves: 107 saves x                      ┐ training window = days 7..8
    day 8  saves: 108 saves t                      ┘ (positives (107, x), (108, t))
    day 9  saves: 101 z, w; 102 y; 103 s; 104 t (no history: cold start); 105 s, t and r
           (r re-saved: already engaged)           ┐ test window = days 9..10
    day 10 no events (an empty day folder)         ┘

Users 109 and 201-204 have no engagement history. ``EXPECTED`` holds the hand-computed results.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pixie_assets.core import contract
from pixie_assets.landing import write_landing_table

BASE = date(2026, 3, 1)
TEST_START, TEST_END = 9, 10  # day offsets
TRAIN_START, TRAIN_END = 7, 8

CATS = {"q": 11, "x": 12, "y": 13, "z": 14}
CARS = {"r": 21, "s": 22, "t": 23}
W = 31
FILLERS = list(range(41, 56))
NEVER_SAVED = 99
BOARDS = {
    501: [11, 12],
    502: [11, 13],
    503: [11, 13, 14],
    511: [21, 22],
    512: [21, 22, 23],
    **{521 + i: [W] for i in range(5)},
    **{700 + 4 * i + j: [f] for i, f in enumerate(FILLERS) for j in range(4)},
}
EMPTY_BOARD = 599
OWNER = 201


def _day(base: date, offset: int, hour: int = 12) -> datetime:
    return datetime.combine(base + timedelta(days=offset), datetime.min.time()) + timedelta(
        hours=hour
    )


def window(base: date = BASE) -> tuple[str, str]:
    """The test window as (test_start, test_end) strings."""
    return (
        (base + timedelta(days=TEST_START)).isoformat(),
        (base + timedelta(days=TEST_END)).isoformat(),
    )


def tables(base: date = BASE) -> dict[str, pa.Table]:
    """The contract tables of the example, in the contract schemas."""
    users = [*range(101, 110), 201, 202, 203, 204]
    topic = {**dict.fromkeys(CATS.values(), "cats"), **dict.fromkeys(CARS.values(), "cars")}
    topic |= {W: "memes", NEVER_SAVED: "art", **dict.fromkeys(FILLERS, "quotes")}
    pins = sorted(topic)
    board_topic = {b: topic[p[0]] for b, p in BOARDS.items()} | {EMPTY_BOARD: None}
    saves = []
    for board, board_pins in BOARDS.items():
        for pin in board_pins:
            saves.append((OWNER + board % 4, pin, board, _day(base, 0, 10 + board % 4)))
    saves += [
        (107, 12, 501, _day(base, 7, 9)),
        (108, 23, 512, _day(base, 8, 9)),
        (101, 14, 503, _day(base, 9, 9)),
        (101, W, 525, _day(base, 9, 10)),
        (102, 13, 502, _day(base, 9, 11)),
        (103, 22, 511, _day(base, 9, 12)),
        (104, 23, 512, _day(base, 9, 13)),
        (105, 22, 511, _day(base, 9, 14)),
        (105, 23, 512, _day(base, 9, 15)),
        (105, 21, 511, _day(base, 9, 16)),
    ]
    engagements = [
        (101, 11, "click", _day(base, 4)),
        (102, 11, "click", _day(base, 4)),
        (102, 12, "closeup", _day(base, 4, 13)),
        (103, 21, "hide", _day(base, 4)),
        (105, 21, "click", _day(base, 4)),
        (106, 11, "click", _day(base, 4)),
        (106, 11, "click", _day(base, 4)),
        (107, 11, "click", _day(base, 4)),
        (108, 21, "click", _day(base, 5, 8)),
    ]
    created = datetime.combine(base - timedelta(days=60), datetime.min.time())
    return {
        "users": pa.table(
            {
                "user_id": users,
                "locale": ["en-US"] * len(users),
                "created_at": [created] * len(users),
            },
            schema=contract.USERS,
        ),
        "pins": pa.table(
            {
                "pin_id": pins,
                "locale": ["en-US"] * len(pins),
                "topic": [topic[p] for p in pins],
                "created_at": [created] * len(pins),
            },
            schema=contract.PINS,
        ),
        "boards": pa.table(
            {
                "board_id": list(board_topic),
                "owner_id": [OWNER] * len(board_topic),
                "topic": list(board_topic.values()),
            },
            schema=contract.BOARDS,
        ),
        "saves": pa.table(
            dict(zip(contract.SAVES.names, map(list, zip(*saves, strict=True)), strict=True)),
            schema=contract.SAVES,
        ),
        "engagements": pa.table(
            {
                "user_id": [e[0] for e in engagements],
                "pin_id": [e[1] for e in engagements],
                "action": [e[2] for e in engagements],
                "client": ["homefeed"] * len(engagements),
                "request_id": [None] * len(engagements),
                "ts": [e[3] for e in engagements],
            },
            schema=contract.ENGAGEMENTS,
        ),
    }


def write_example(root: Path, base: date = BASE) -> Path:
    """Write the example as a landing folder: dimension tables as one file each, saves one file
    per day directly in its day folder, engagements per day in client=homefeed/ except day 5,
    whose file sits directly in its day folder; plus an empty folder for day 10."""
    data = tables(base)
    for name in ("users", "pins", "boards", "saves"):
        write_landing_table(root, name, data[name])
    engagements = data["engagements"]
    late = pc.greater_equal(engagements["ts"], pa.scalar(_day(base, 5, 0)))
    write_landing_table(root, "engagements", engagements.filter(pc.invert(late)), "homefeed")
    write_landing_table(root, "engagements", engagements.filter(late))
    (root / "saves" / f"day={(base + timedelta(days=TEST_END)).isoformat()}").mkdir()
    return root


def _ndcg(ranks: list[float], n: int, k: int = 20) -> float:
    dcg = sum(1 / math.log2(1 + r) for r in ranks if r <= k)
    return dcg / sum(1 / math.log2(1 + i) for i in range(1, min(n, k) + 1))


# Ranks by hand (inf = not in the user's list). Popularity before day 9: w 5 saves (#1), the 15
# fillers 4 each (#2-16), q 3 (#17), then 2 saves each by id: x #18, y #19, r #20, s #21, t #22,
# then z 1 (#23); each user's list drops their engaged pins (u1 and u2: q, u2 also x; u3, u5: r).
INF = math.inf
RANKS = {
    #                 (user, pin): (popularity, visit_count)
    "u1_z": (101, 14, 22, 3),
    "u1_w": (101, W, 1, INF),
    "u2_y": (102, 13, 17, 1),
    "u3_s": (103, 22, 20, INF),  # only a hide: no query pin, no candidates
    "u5_s": (105, 22, 20, 1),
    "u5_t": (105, 23, 21, 2),
}
EXPECTED = {
    "popularity": {
        "hit@10": 1 / 6,
        "hit@100": 1.0,
        "hit@1000": 1.0,
        "recall@20": (1 / 2 + 1 + 1 + 1 / 2) / 4,
        "ndcg@20": (_ndcg([1, 22], 2) + _ndcg([17], 1) + _ndcg([20], 1) + _ndcg([20, 21], 2)) / 4,
    },
    "visit_count": {
        "hit@10": 4 / 6,
        "hit@100": 4 / 6,
        "hit@1000": 4 / 6,
        "recall@20": (1 / 2 + 1 + 0 + 1) / 4,
        "ndcg@20": (_ndcg([3, INF], 2) + _ndcg([1], 1) + 0 + _ndcg([1, 2], 2)) / 4,
    },
}
EXPECTED_COUNTS = {
    "test_users": 4,
    "test_positives": 6,
    "requests": 7,  # 101, 102, 103, 105, 106, 107, 108
    "requests_with_candidates": 6,  # all but 103
    "history/cold_start_saves": 1,  # 104
    "history/repeat_saves": 1,  # 105 re-saving r
    "history/window_saves": 8,
}
