"""MovieLens (GroupLens) releases as a landing folder.

Layouts, detected by which files SRC holds:

- ``ratings.csv`` + ``movies.csv`` (ml-latest, ml-latest-small, ml-25m, ml-20m): CSV with header
  ``userId,movieId,rating,timestamp`` and ``movieId,title,genres``; genres ``|``-separated,
  "(no genres listed)" possible, titles quoted with commas.
- ``ratings.dat`` + ``movies.dat`` (ml-1m, ml-10m): ``::``-separated, no header; movies.dat is
  Latin-1.
- ``u.data`` + ``u.item`` (ml-100k): u.data tab-separated ``user item rating timestamp``; u.item
  ``|``-separated Latin-1 with 5 leading fields (id|title|release date|video release date|IMDb
  URL) then 19 0/1 genre flags in the order unknown, Action, Adventure, Animation, Children's,
  Comedy, Crime, Documentary, Drama, Fantasy, Film-Noir, Horror, Musical, Mystery, Romance,
  Sci-Fi, Thriller, War, Western.

Timestamps are unix seconds.

Mapping:

- pin = movie (pin_id = movieId), only movies with at least one rating. topic = the movie's most
  specific genre: of its genres, the one with the fewest movies in the catalogue (ties by name);
  "unknown" when it has none. locale "und" for every pin and user (MovieLens has no locale). pin
  created_at = its first rating's time.
- user = userId; created_at = their first rating's time.
- engagement per rating, client = --client (default homefeed), request_id null, ts = rating time:
  rating ≥ save threshold (default 4.0) → action "save"; rating ≥ 3 and < threshold → "closeup";
  below 3 → "hide" (the user watched it and disliked it: it must never be recommended back and is
  not a query pin).
- save per rating ≥ threshold: board = the user's board of the movie's topic (one board per
  (user, topic) that has a save; board topic = that topic; board_id dense 1..n ordered by
  (user_id, topic); owner_id = user), saved_at = rating time.
- exact duplicates in the source are kept (documented: exact duplicate engagement rows are
  legitimate).

Details: the catalogue is the movies file (every movie it lists, rated or not, counts towards a
genre's size); "(no genres listed)" and ml-100k's "unknown" flag mean no genre; a genre listed
twice for a movie counts once; a rated movie missing from the movies file is a pin of topic
"unknown" (counted in the pins line); a movie listed twice keeps its first line. "save" comes
first: with a threshold of 3 or less there are no closeups and every rating from the threshold
up is a save. No rating is dropped.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pixie_assets.convert.common import (
    LOCALE_UNDETERMINED,
    MICROS_PER_SECOND,
    ConversionReport,
    Converted,
    ConvertError,
    constant,
    csv_header,
    dense_ids,
    read_numeric,
    require_columns,
    run,
    string_codes,
    text_lines,
)

DEFAULT_SAVE_THRESHOLD = 4.0
CLOSEUP_FLOOR = 3.0
UNKNOWN_TOPIC = "unknown"
NO_GENRES = "(no genres listed)"
GENRES_100K: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ACTIONS = ("save", "closeup", "hide")  # codes 0, 1, 2 of the action column


@dataclass(frozen=True)
class Layout:
    ratings: str
    movies: str
    releases: str


LAYOUTS: tuple[Layout, ...] = (
    Layout("ratings.csv", "movies.csv", "ml-latest, ml-latest-small, ml-25m, ml-20m"),
    Layout("ratings.dat", "movies.dat", "ml-1m, ml-10m"),
    Layout("u.data", "u.item", "ml-100k"),
)
RATING_TYPES = {
    "userId": pa.int64(),
    "movieId": pa.int64(),
    "rating": pa.float64(),
    "timestamp": pa.int64(),
}


def detect_layout(src: Path) -> Layout:
    """The layout whose ratings file SRC holds (in the order above); its movies file is then
    required."""
    for layout in LAYOUTS:
        if (src / layout.ratings).is_file():
            if not (src / layout.movies).is_file():
                raise ConvertError(
                    f"{src}: SRC holds {layout.ratings} but not {layout.movies} "
                    f"(the {layout.releases} layout needs both)"
                )
            return layout
    names = ", ".join(layout.ratings for layout in LAYOUTS)
    raise ConvertError(f"{src}: SRC holds none of {names} (is it an unpacked MovieLens release?)")


# --- reading ---------------------------------------------------------------------------------


def read_ratings(src: Path, layout: Layout) -> pa.Table:
    """userId, movieId, rating (float64), timestamp (unix seconds) of every rating, in file
    order."""
    path = src / layout.ratings
    if layout.ratings == "ratings.csv":
        header = csv_header(path)
        require_columns(path, header, list(RATING_TYPES))
        table = read_numeric(
            path,
            header,
            RATING_TYPES,
            delimiter=",",
            header=True,
            quoted=True,
            fields=lambda line: next(csv.reader(io.StringIO(line)), []),
            field_names=header,
            what="separated by ','",
        )
    elif layout.ratings == "ratings.dat":
        # "1::1193::5::978300760" read with ':' as the delimiter: every other field is empty.
        names = ["userId", "_1", "movieId", "_2", "rating", "_3", "timestamp"]
        table = read_numeric(
            path,
            names,
            RATING_TYPES,
            delimiter=":",
            header=False,
            quoted=False,
            fields=lambda line: line.split("::"),
            field_names=list(RATING_TYPES),
            what="separated by '::'",
        )
    else:
        table = read_numeric(
            path,
            list(RATING_TYPES),
            RATING_TYPES,
            delimiter="\t",
            header=False,
            quoted=False,
            fields=lambda line: line.split("\t"),
            field_names=list(RATING_TYPES),
            what="separated by tabs",
        )
    if table.num_rows == 0:
        raise ConvertError(f"{layout.ratings}: holds no ratings")
    return table.select(list(RATING_TYPES))


def _movie_id(file: str, number: int, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConvertError(
            f"{file}: line {number}: column 'movieId': {text!r} is not an integer"
        ) from None


def _genre_list(text: str) -> list[str]:
    genres = [g.strip() for g in text.split("|")]
    return list(dict.fromkeys(g for g in genres if g and g != NO_GENRES))


def read_catalogue(src: Path, layout: Layout) -> dict[int, list[str]]:
    """movieId -> its genres (without duplicates), for every movie of the movies file."""
    path = src / layout.movies
    catalogue: dict[int, list[str]] = {}
    if layout.movies == "movies.csv":
        header = csv_header(path)
        require_columns(path, header, ["movieId", "genres"])
        id_at, genres_at = header.index("movieId"), header.index("genres")
        with path.open("rb") as handle:
            text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(text)
            next(reader, None)
            for row in reader:
                if not row or not "".join(row).strip():
                    continue
                if len(row) <= max(id_at, genres_at):
                    raise ConvertError(
                        f"{path.name}: line {reader.line_num}: expected {len(header)} fields, "
                        f"found {len(row)}"
                    )
                movie = _movie_id(path.name, reader.line_num, row[id_at])
                catalogue.setdefault(movie, _genre_list(row[genres_at]))
    elif layout.movies == "movies.dat":
        for number, line in text_lines(path):
            fields = line.split("::")
            if len(fields) < 3:
                raise ConvertError(
                    f"{path.name}: line {number}: expected 3 fields (id::title::genres), "
                    f"found {len(fields)}"
                )
            catalogue.setdefault(_movie_id(path.name, number, fields[0]), _genre_list(fields[-1]))
    else:
        for number, line in text_lines(path):
            fields = line.split("|")
            if len(fields) < 5 + len(GENRES_100K):
                raise ConvertError(
                    f"{path.name}: line {number}: expected {5 + len(GENRES_100K)} fields "
                    f"(5 then one 0/1 flag per genre), found {len(fields)}"
                )
            flags = fields[-len(GENRES_100K) :]
            for genre, flag in zip(GENRES_100K, flags, strict=True):
                if flag.strip() not in ("0", "1"):
                    raise ConvertError(
                        f"{path.name}: line {number}: genre flag {genre!r}: {flag!r} is not 0 or 1"
                    )
            genres = [g for g, f in zip(GENRES_100K, flags, strict=True) if f.strip() == "1"]
            catalogue.setdefault(
                _movie_id(path.name, number, fields[0]),
                [g for g in genres if g != UNKNOWN_TOPIC],
            )
    return catalogue


def movie_topics(catalogue: dict[int, list[str]]) -> dict[int, str]:
    """Each movie's most specific genre: the one with the fewest movies in the catalogue, ties
    by name; "unknown" for a movie without genres."""
    sizes = Counter(genre for genres in catalogue.values() for genre in genres)
    return {
        movie: min(genres, key=lambda g: (sizes[g], g)) if genres else UNKNOWN_TOPIC
        for movie, genres in catalogue.items()
    }


# --- mapping ---------------------------------------------------------------------------------


def map_ratings(
    ratings: pa.Table,
    topics: dict[int, str],
    save_threshold: float = DEFAULT_SAVE_THRESHOLD,
    client: str = "homefeed",
) -> dict[str, pa.Table]:
    """The five landing tables from ratings (userId, movieId, rating, timestamp) and the
    movies' topics, as the module docstring says."""
    users = ratings["userId"].to_numpy()
    movies = ratings["movieId"].to_numpy()
    stars = ratings["rating"].to_numpy()
    micros = ratings["timestamp"].to_numpy() * MICROS_PER_SECOND
    times = pa.array(micros, pa.int64()).cast(pa.timestamp("us"))
    n = len(users)
    events = pa.table({"user_id": users, "pin_id": movies, "ts": times})

    user_table = (
        events.group_by("user_id")
        .aggregate([("ts", "min")])
        .sort_by("user_id")
        .rename_columns(["user_id", "created_at"])
    )
    pin_table = (
        events.group_by("pin_id")
        .aggregate([("ts", "min")])
        .sort_by("pin_id")
        .rename_columns(["pin_id", "created_at"])
    )
    pin_ids = pin_table["pin_id"].to_pylist()
    pin_topics = [topics.get(pin, UNKNOWN_TOPIC) for pin in pin_ids]

    action = np.where(stars >= save_threshold, 0, np.where(stars >= CLOSEUP_FLOOR, 1, 2))
    engagements = pa.table(
        {
            "user_id": users,
            "pin_id": movies,
            "action": pa.DictionaryArray.from_arrays(
                pa.array(action.astype(np.int8)), pa.array(ACTIONS)
            ),
            "client": constant(client, n),
            "request_id": pa.nulls(n, pa.string()),
            "ts": times,
        }
    )

    saved = action == 0
    codes, names = string_codes(pin_topics)
    pin_row = pc.index_in(pa.array(movies[saved]), value_set=pin_table["pin_id"]).to_numpy()
    save_users, save_topics = users[saved], codes[pin_row]
    board_of_save, firsts = dense_ids([save_users, save_topics])
    boards = pa.table(
        {
            "board_id": np.arange(1, len(firsts) + 1, dtype=np.int64),
            "owner_id": save_users[firsts],
            "topic": pa.array([names[c] for c in save_topics[firsts]], pa.string()),
        }
    )
    saves = pa.table(
        {
            "user_id": save_users,
            "pin_id": movies[saved],
            "board_id": board_of_save,
            "saved_at": times.filter(pa.array(saved)),
        }
    )
    return {
        "users": user_table.append_column("locale", constant(LOCALE_UNDETERMINED, len(user_table))),
        "pins": pin_table.append_column(
            "locale", constant(LOCALE_UNDETERMINED, len(pin_table))
        ).append_column("topic", pa.array(pin_topics, pa.string())),
        "boards": boards,
        "saves": saves,
        "engagements": engagements,
    }


def read_movielens(
    src: Path, save_threshold: float = DEFAULT_SAVE_THRESHOLD, client: str = "homefeed"
) -> Converted:
    """Detect the layout, read and map; no files are written."""
    src = Path(src)
    if not math.isfinite(save_threshold):
        raise ConvertError(f"--save-threshold {save_threshold}: give a finite rating")
    layout = detect_layout(src)
    ratings = read_ratings(src, layout)
    catalogue = read_catalogue(src, layout)
    tables = map_ratings(ratings, movie_topics(catalogue), save_threshold, client)

    pins = tables["pins"]["pin_id"].to_numpy()
    unlisted = int((~np.isin(pins, np.fromiter(catalogue, np.int64, len(catalogue)))).sum())
    never_rated = len(catalogue) - (len(pins) - unlisted)
    codes = tables["engagements"]["action"].combine_chunks().indices.to_numpy()
    actions = dict(zip(ACTIONS, np.bincount(codes, minlength=len(ACTIONS)).tolist(), strict=True))
    if actions["save"] == 0:
        raise ConvertError(
            f"{layout.ratings}: no rating reaches --save-threshold {save_threshold:g}, so there "
            "would be no saves (the graph's edges); lower the threshold"
        )
    floor = f"{CLOSEUP_FLOOR:g}"
    threshold = f"{save_threshold:g}"
    notes = {
        "users": "every user with a rating; created_at = first rating; none dropped",
        "pins": (
            f"movies with a rating; topic = rarest genre; {never_rated:,} of {len(catalogue):,} "
            f"in {layout.movies} never rated (not pins)"
            + (
                f"; {unlisted:,} rated but not in {layout.movies} (topic unknown)"
                if unlisted
                else ""
            )
        ),
        "boards": "one per (user, topic) with a save; ids by (user, topic)",
        "saves": f"one per rating >= {threshold}, on the user's board of the movie's topic",
        "engagements": (
            f"one per rating: save {actions['save']:,} (rating >= {threshold}), closeup "
            f"{actions['closeup']:,} ({floor} <= rating < {threshold}), hide "
            f"{actions['hide']:,} (rating < {floor}); no rating dropped, duplicates kept"
        ),
    }
    return Converted(
        dataset="movielens",
        source=f"{layout.ratings} + {layout.movies} ({layout.releases} layout)",
        tables=tables,
        notes=notes,
        dropped={"ratings": 0, "movies_never_rated": never_rated},
    )


def convert_movielens(
    src: Path,
    dest: Path,
    save_threshold: float = DEFAULT_SAVE_THRESHOLD,
    client: str = "homefeed",
) -> ConversionReport:
    """Convert the MovieLens release in ``src`` into the new landing folder ``dest``, validated."""
    return run(lambda: read_movielens(Path(src), save_threshold, client), src, dest, client)
