"""``python -m pixie_assets.convert``: tiny hand-written releases in each source layout, converted
and read back row by row against the documented mapping.

One logical MovieLens catalogue is written in all four layouts (ml-latest CSV, ml-1m and ml-10m
``::`` files, ml-100k ``u.data``/``u.item``) and must give identical landing tables:

    movie  genres                    topic (rarest genre in the catalogue, ties by name)
    1      Animation|Comedy          Comedy    (Animation is on 3 movies, Comedy on 2)
    2      Action|Crime|Thriller     Action    (all on 1: by name)
    3      (none)                    unknown
    4      Animation|Horror          never rated: not a pin, but counts towards Animation
    5      Comedy|Drama              Comedy    (both on 2: by name)
    6      Animation                 never rated
    8      Drama|Romance             Romance   (title "Amélie": Latin-1 in the old layouts)
    9      not in the movies file    unknown
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixie_assets.convert.__main__ import main
from pixie_assets.convert.common import ConvertError
from pixie_assets.convert.hetrec import convert_hetrec, read_hetrec
from pixie_assets.convert.movielens import GENRES_100K, convert_movielens
from pixie_assets.core import contract
from pixie_assets.landing import validate_landing, write_landing_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def at(seconds: int) -> datetime:
    """Naive UTC, as the landing contract stores times."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def unix(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


# --- the MovieLens catalogue ---------------------------------------------------------------------

MOVIES = [
    (1, "American President, The (1995)", ["Animation", "Comedy"]),
    (2, "Heat (1995)", ["Action", "Crime", "Thriller"]),
    (3, "Nameless (2000)", []),
    (4, "Unrated Toon (2001)", ["Animation", "Horror"]),
    (5, "Drama Club (1999)", ["Comedy", "Drama"]),
    (6, "Another Toon (1998)", ["Animation"]),
    (8, "Amélie (2001)", ["Drama", "Romance"]),
]
T0 = unix(2000, 1, 1)
T1 = unix(2001, 3, 4, 5, 6, 7)
EARLY = unix(1998, 11, 27, 5, 6, 7)
RATINGS = [  # user, movie, stars, time
    (10, 1, 4, T0 + 3600),  # save, board (10, Comedy)
    (10, 5, 5, T0 + 86_400),  # save, the same board
    (10, 8, 4, T0 + 2 * 86_400),  # save, board (10, Romance)
    (10, 2, 3, T0 + 7200),  # closeup
    (10, 3, 2, T0 + 60),  # hide
    (7, 2, 5, T1),  # save, board (7, Action)
    (7, 2, 5, T1),  # an exact duplicate: kept
    (7, 9, 3, T1 + 10),  # closeup of a movie missing from the movies file
    (7, 1, 1, EARLY),  # hide
]
EXPECTED = {
    "users": [(7, "und", at(EARLY)), (10, "und", at(T0 + 60))],
    "pins": [
        (1, "und", "Comedy", at(EARLY)),
        (2, "und", "Action", at(T0 + 7200)),
        (3, "und", "unknown", at(T0 + 60)),
        (5, "und", "Comedy", at(T0 + 86_400)),
        (8, "und", "Romance", at(T0 + 2 * 86_400)),
        (9, "und", "unknown", at(T1 + 10)),
    ],
    "boards": [(1, 7, "Action"), (2, 10, "Comedy"), (3, 10, "Romance")],
    "saves": [
        (7, 2, 1, at(T1)),
        (7, 2, 1, at(T1)),
        (10, 1, 2, at(T0 + 3600)),
        (10, 5, 2, at(T0 + 86_400)),
        (10, 8, 3, at(T0 + 2 * 86_400)),
    ],
    "engagements": sorted(
        [
            (10, 1, "save", "homefeed", None, at(T0 + 3600)),
            (10, 5, "save", "homefeed", None, at(T0 + 86_400)),
            (10, 8, "save", "homefeed", None, at(T0 + 2 * 86_400)),
            (10, 2, "closeup", "homefeed", None, at(T0 + 7200)),
            (10, 3, "hide", "homefeed", None, at(T0 + 60)),
            (7, 2, "save", "homefeed", None, at(T1)),
            (7, 2, "save", "homefeed", None, at(T1)),
            (7, 9, "closeup", "homefeed", None, at(T1 + 10)),
            (7, 1, "hide", "homefeed", None, at(EARLY)),
        ]
    ),
}


def write_csv_layout(src: Path) -> None:
    """ml-latest: CSV with headers, titles quoted with commas, "(no genres listed)"."""
    src.mkdir(parents=True)
    lines = ["movieId,title,genres"]
    for movie, title, genres in MOVIES:
        quoted = f'"{title}"' if "," in title else title
        lines.append(f"{movie},{quoted},{'|'.join(genres) or '(no genres listed)'}")
    (src / "movies.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [f"{u},{m},{float(r)},{t}" for u, m, r, t in RATINGS]
    (src / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "\n".join(rows) + "\n")


def write_dat_layout(src: Path, ten_m: bool = False) -> None:
    """ml-1m (integer stars, Latin-1 movies.dat) or ml-10m (x.0 stars, UTF-8, a tags.dat)."""
    src.mkdir(parents=True)
    encoding = "utf-8" if ten_m else "latin-1"
    movies = [
        f"{m}::{title}::{'|'.join(genres) or '(no genres listed)'}" for m, title, genres in MOVIES
    ]
    (src / "movies.dat").write_bytes(("\n".join(movies) + "\n").encode(encoding))
    stars = (lambda r: f"{float(r)}") if ten_m else str
    rows = [f"{u}::{m}::{stars(r)}::{t}" for u, m, r, t in RATINGS]
    (src / "ratings.dat").write_text("\n".join(rows) + "\n")
    if ten_m:
        (src / "tags.dat").write_text("10::1::funny::946684900\n")


def write_100k_layout(src: Path) -> None:
    """ml-100k: tab-separated u.data, '|'-separated Latin-1 u.item with 19 genre flags."""
    src.mkdir(parents=True)
    items = []
    for movie, title, genres in MOVIES:
        flags = [
            "1" if g in genres or (g == "unknown" and not genres) else "0" for g in GENRES_100K
        ]
        items.append("|".join([str(movie), title, "01-Jan-1995", "", "http://x", *flags]))
    (src / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (src / "u.data").write_text("".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in RATINGS))


LAYOUTS = {
    "ml-latest": write_csv_layout,
    "ml-1m": write_dat_layout,
    "ml-10m": lambda src: write_dat_layout(src, ten_m=True),
    "ml-100k": write_100k_layout,
}


def rows(landing: Path, table: str) -> list[tuple]:
    """Every row of a landing table, sorted, with the contract's columns in order."""
    columns = ", ".join(contract.WORLD_TABLES[table].names)
    with duckdb.connect() as con:
        return con.execute(
            f"SELECT {columns} FROM read_parquet($glob, hive_partitioning = false) ORDER BY ALL",
            {"glob": str(landing / table / "**" / "*.parquet")},
        ).fetchall()


def assert_valid(landing: Path) -> None:
    validate_landing(landing, use_cache=False)
    for table in ("saves", "engagements"):
        for path in (landing / table).rglob("*.parquet"):
            assert pq.read_schema(path).remove_metadata() == contract.WORLD_TABLES[table], path


# --- MovieLens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_movielens_layout_gives_the_documented_tables(tmp_path, layout):
    src, dest = tmp_path / layout, tmp_path / "landing"
    LAYOUTS[layout](src)
    report = convert_movielens(src, dest)
    for table, expected in EXPECTED.items():
        assert rows(dest, table) == sorted(expected), table
    assert report.counts == {table: len(expected) for table, expected in EXPECTED.items()}
    assert report.dropped == {"ratings": 0, "movies_never_rated": 2}
    assert "1 rated but not in" in report.notes["pins"]
    assert (
        "save 5 (rating >= 4), closeup 2 (3 <= rating < 4), hide 2 (rating < 3)"
        in (report.notes["engagements"])
    )
    assert (dest / "saves" / "day=2001-03-04" / "part-0.parquet").is_file()
    assert (
        dest / "engagements" / "day=2000-01-01" / "client=homefeed" / "part-0.parquet"
    ).is_file()
    assert sorted(p.name for p in (dest / "engagements").iterdir()) == [
        "day=1998-11-27",
        "day=2000-01-01",
        "day=2000-01-02",
        "day=2000-01-03",
        "day=2001-03-04",
    ]
    assert_valid(dest)


def test_half_stars_threshold_and_client_through_the_command_line(tmp_path):
    src, dest = tmp_path / "ml-latest-small", tmp_path / "out" / "landing"
    src.mkdir()
    (src / "movies.csv").write_text('movieId,title,genres\n1,"A, B",Drama\n2,C,Comedy|Drama\n')
    (src / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        f"1,1,3.5,{T0}\n1,2,4.5,{T0 + 1}\n1,1,2.5,{T0 + 2}\n2,2,3.0,{T0 + 86_400}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pixie_assets.convert", "movielens", str(src), str(dest)]
        + ["--save-threshold", "3.5", "--client", "web"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == list(EXPECTED)
    assert "valid landing folder" in lines[5]
    summary = json.loads(lines[-1])
    assert {t: summary[t] for t in EXPECTED} == {
        "users": 2,
        "pins": 2,
        "boards": 2,
        "saves": 2,
        "engagements": 4,
    }
    assert rows(dest, "engagements") == [
        (1, 1, "hide", "web", None, at(T0 + 2)),
        (1, 1, "save", "web", None, at(T0)),
        (1, 2, "save", "web", None, at(T0 + 1)),
        (2, 2, "closeup", "web", None, at(T0 + 86_400)),
    ]
    # Drama is on 2 movies, Comedy on 1: movie 2's topic is Comedy, so user 1 has two boards.
    assert rows(dest, "boards") == [(1, 1, "Comedy"), (2, 1, "Drama")]
    assert rows(dest, "saves") == [(1, 1, 2, at(T0)), (1, 2, 1, at(T0 + 1))]
    assert (dest / "engagements" / "day=2000-01-02" / "client=web" / "part-0.parquet").is_file()
    assert_valid(dest)


def test_errors_name_the_file_and_the_column_or_line(tmp_path):
    dest = tmp_path / "landing"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConvertError, match="SRC holds none of ratings.csv, ratings.dat, u.data"):
        convert_movielens(empty, dest)

    no_movies = tmp_path / "no_movies"
    no_movies.mkdir()
    (no_movies / "u.data").write_text("1\t2\t3\t4\n")
    with pytest.raises(ConvertError, match="holds u.data but not u.item"):
        convert_movielens(no_movies, dest)

    src = tmp_path / "csv"
    write_csv_layout(src)
    (src / "ratings.csv").write_text("userId,movieId,timestamp\n1,2,3\n")
    with pytest.raises(ConvertError, match=r"ratings\.csv: missing column 'rating'"):
        convert_movielens(src, dest)
    (src / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,4.0,5\n1,2,,6\n")
    with pytest.raises(ConvertError, match=r"ratings\.csv: line 3: column 'rating': '' is not"):
        convert_movielens(src, dest)
    (src / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,1.0,5\n")
    with pytest.raises(ConvertError, match="no rating reaches --save-threshold 4"):
        convert_movielens(src, dest)

    dat = tmp_path / "dat"
    write_dat_layout(dat)
    (dat / "ratings.dat").write_text("1::2::4::5\n1::2::4::6\n1::2::6\n")
    with pytest.raises(ConvertError, match=r"ratings\.dat: line 3: expected 4 fields .*found 3"):
        convert_movielens(dat, dest)
    (dat / "ratings.dat").write_text("1::2::4::5\n1::x::4::6\n")
    with pytest.raises(ConvertError, match=r"ratings\.dat: line 2: column 'movieId': 'x'"):
        convert_movielens(dat, dest)

    item = tmp_path / "100k"
    write_100k_layout(item)
    (item / "u.item").write_text("1|Title|x|y|z|" + "|".join(["0"] * 18) + "|2\n")
    with pytest.raises(ConvertError, match=r"u\.item: line 1: genre flag 'Western': '2'"):
        convert_movielens(item, dest)
    assert not dest.exists()


def test_a_non_empty_destination_is_refused(tmp_path, capsys):
    src, dest = tmp_path / "src", tmp_path / "landing"
    write_csv_layout(src)
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ConvertError, match="DEST is not empty"):
        convert_movielens(src, dest)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]

    assert main(["hetrec", str(src), str(dest)]) == 1
    printed = capsys.readouterr()
    assert "DEST is not empty" in printed.err and not printed.out

    (dest / "notes.txt").unlink()  # an existing empty folder is fine
    convert_movielens(src, dest)
    assert_valid(dest)


def test_write_landing_table_splits_unsorted_rows_by_day_in_time_order(tmp_path):
    engagements = pa.table(
        {
            "user_id": pa.array([3, 1, 2, 1], pa.int32()),
            "pin_id": [9, 8, 7, 8],
            "action": ["save", "hide", "click", "hide"],
            "client": ["app"] * 4,
            "request_id": [None, "r1", None, None],
            "ts": [at(T1), at(T0 + 5), at(T1 + 1), at(T0 + 5)],
        }
    )
    written = write_landing_table(tmp_path, "engagements", engagements, client="app")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "engagements/day=2000-01-01/client=app/part-0.parquet",
        "engagements/day=2001-03-04/client=app/part-0.parquet",
    ]
    first, second = (pq.read_table(p) for p in written)
    assert first.schema == second.schema == contract.ENGAGEMENTS
    assert first["user_id"].to_pylist() == [1, 1] and first["request_id"].to_pylist() == [
        "r1",
        None,
    ]
    assert second["user_id"].to_pylist() == [3, 2]  # stable: input order within a day


# --- HetRec ------------------------------------------------------------------------------------


def millis(*parts: int) -> int:
    return unix(*parts) * 1000


TODAY = date(2026, 1, 1)
STAMPED = [  # user, item, tag, time in ms
    (2, 51, 1, millis(2009, 4, 1)),
    (2, 51, 2, millis(2009, 4, 2)),
    (2, 52, 2, millis(2009, 5, 1)),
    (2, 51, 1, millis(2009, 3, 1)),  # the same assignment earlier: merged, at this time
    (3, 51, 2, millis(2010, 1, 1)),
    (3, 53, 4, millis(2010, 2, 1)),  # tag 4 has no text: "tag:4"
    (3, 56, 3, millis(2010, 3, 1)),  # item 56: tags 3 and 1 once each: topic tag 1
    (3, 56, 1, millis(2010, 3, 2)),
    (3, 54, 1, 0),  # 1970: dropped
    (4, 55, 3, millis(1956, 6, 1)),  # 1956: dropped (user 4 and item 55 with it)
    (3, 52, 2, millis(2100, 1, 1)),  # after the conversion day: dropped
]
TAGS_LATIN1 = "tagID\ttagValue\n1\trock\n2\tm\xfasica\n3\tjazz\n".encode("latin-1")


def test_hetrec_with_timestamps(tmp_path):
    src, dest = tmp_path / "hetrec2011-lastfm-2k", tmp_path / "landing"
    src.mkdir()
    (src / "user_taggedartists-timestamps.dat").write_text(
        "userID\tartistID\ttagID\ttimestamp\n"
        + "".join(f"{u}\t{i}\t{t}\t{ms}\r\n" for u, i, t, ms in STAMPED)
    )
    # The plain variant is there too (as in the release) and must be ignored.
    (src / "user_taggedartists.dat").write_text("userID\tartistID\ttagID\tday\tmonth\tyear\n")
    (src / "tags.dat").write_bytes(TAGS_LATIN1)
    (src / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tBand\thttp://x\t\n")

    report = convert_hetrec(src, dest, today=TODAY)
    day = lambda *parts: datetime(*parts)  # noqa: E731
    assert rows(dest, "users") == [(2, "und", day(2009, 3, 1)), (3, "und", day(2010, 1, 1))]
    assert rows(dest, "pins") == [
        (51, "und", "música", day(2009, 3, 1)),  # tag 2 by two users, tag 1 by one
        (52, "und", "música", day(2009, 5, 1)),
        (53, "und", "tag:4", day(2010, 2, 1)),
        (56, "und", "rock", day(2010, 3, 1)),
    ]
    assert rows(dest, "boards") == [
        (1, 2, "rock"),
        (2, 2, "música"),
        (3, 3, "rock"),
        (4, 3, "música"),
        (5, 3, "jazz"),
        (6, 3, "tag:4"),
    ]
    assert rows(dest, "saves") == [
        (2, 51, 1, day(2009, 3, 1)),
        (2, 51, 2, day(2009, 4, 2)),
        (2, 52, 2, day(2009, 5, 1)),
        (3, 51, 4, day(2010, 1, 1)),
        (3, 53, 6, day(2010, 2, 1)),
        (3, 56, 3, day(2010, 3, 2)),
        (3, 56, 5, day(2010, 3, 1)),
    ]
    assert rows(dest, "engagements") == [
        (2, 51, "save", "homefeed", None, day(2009, 3, 1)),
        (2, 52, "save", "homefeed", None, day(2009, 5, 1)),
        (3, 51, "save", "homefeed", None, day(2010, 1, 1)),
        (3, 53, "save", "homefeed", None, day(2010, 2, 1)),
        (3, 56, "save", "homefeed", None, day(2010, 3, 1)),
    ]
    assert report.dropped == {
        "assignments": 3,
        "before_1995": 2,
        "from_conversion_day": 1,
        "impossible_date": 0,
        "repeated_assignments_merged": 1,
    }
    line = next(x for x in report.lines() if x.startswith("saves:"))
    assert "dropped 3 of 11 assignments: 2 stamped before 1995-01-01, 1 on or after" in line
    assert "repeated assignments merged: 1" in line
    assert "user_taggedartists-timestamps.dat" in report.source
    assert_valid(dest)


def test_hetrec_without_timestamps_reads_the_date_columns(tmp_path):
    src = tmp_path / "hetrec2011-delicious-2k"
    src.mkdir()
    header = "userID\tbookmarkID\ttagID\tdate_day\tdate_month\tdate_year\tdate_hour\t"
    (src / "user_taggedbookmarks.dat").write_text(
        header + "date_minute\tdate_second\n"
        "8\t100\t7\t31\t12\t2007\t23\t59\t58\n"
        "8\t101\t7\t1\t1\t2008\t0\t0\t1\n"
        "9\t100\t5\t2\t1\t2008\t10\t0\t0\n"
        "9\t100\t5\t31\t2\t2008\t10\t0\t0\n"  # 31 February: dropped
        "9\t102\t5\t1\t1\t1970\t0\t0\t0\n"  # 1970: dropped
    )
    converted = read_hetrec(src, today=TODAY)  # no tags.dat: tags are "tag:<id>"
    assert converted.tables["boards"].to_pylist() == [
        {"board_id": 1, "owner_id": 8, "topic": "tag:7"},
        {"board_id": 2, "owner_id": 9, "topic": "tag:5"},
    ]
    assert converted.tables["saves"]["saved_at"].to_pylist() == [
        datetime(2007, 12, 31, 23, 59, 58),
        datetime(2008, 1, 1, 0, 0, 1),
        datetime(2008, 1, 2, 10),
    ]
    assert converted.tables["pins"]["topic"].to_pylist() == ["tag:5", "tag:7"]  # 100: 1 to 1
    assert converted.dropped["impossible_date"] == 1 and converted.dropped["before_1995"] == 1

    lastfm = tmp_path / "lastfm-plain"
    lastfm.mkdir()
    (lastfm / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t1\t1\t4\t2009\n"
    )
    (lastfm / "tags.dat").write_bytes(TAGS_LATIN1)
    dest = tmp_path / "landing"
    report = convert_hetrec(lastfm, dest, today=TODAY)
    assert report.counts == {"users": 1, "pins": 1, "boards": 1, "saves": 1, "engagements": 1}
    assert rows(dest, "saves") == [(2, 51, 1, datetime(2009, 4, 1))]
    assert_valid(dest)


def test_hetrec_errors_name_the_file_and_column(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "landing"
    src.mkdir()
    with pytest.raises(ConvertError, match=r"SRC holds no user_tagged\*\.dat file"):
        convert_hetrec(src, dest)
    stamped = src / "user_taggedmovies-timestamps.dat"
    stamped.write_text("userID\tmovieID\ttagID\twhen\n1\t2\t3\t4\n")
    with pytest.raises(
        ConvertError, match=r"user_taggedmovies-timestamps\.dat: missing column 'timestamp'"
    ):
        convert_hetrec(src, dest)
    stamped.write_text("userID\tmovieID\ttagID\ttimestamp\n1\t2\t3\t1262304000000\n1\t2\t3\n")
    with pytest.raises(ConvertError, match=r"timestamps\.dat: line 3: expected 4 fields"):
        convert_hetrec(src, dest)
    stamped.write_text("userID\tmovieID\ttagID\ttimestamp\n1\t2\t3\t0\n")
    with pytest.raises(ConvertError, match="no saves after conversion"):
        convert_hetrec(src, dest, today=TODAY)
    assert not dest.exists()
