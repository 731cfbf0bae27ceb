"""HetRec 2011 tag assignments (GroupLens) as a landing folder.

Datasets: hetrec2011-lastfm-2k (``user_taggedartists.dat``, ``user_taggedartists-timestamps.dat``,
``tags.dat``, ``artists.dat``), hetrec2011-delicious-2k (``user_taggedbookmarks.dat``,
``user_taggedbookmarks-timestamps.dat``, ``tags.dat``, ``bookmarks.dat``), hetrec2011-movielens-2k
(``user_taggedmovies.dat``, ``user_taggedmovies-timestamps.dat``, ``tags.dat``, ``movies.dat``, …).
All are tab-separated with a header line and may be Latin-1: text is decoded as UTF-8 where valid,
else Latin-1, so reading never fails on encoding.

The assignments file is the ``user_tagged*.dat`` of SRC, its ``-timestamps`` variant preferred
(columns userID, <item>ID, tagID, timestamp in milliseconds); else the plain one (userID,
<item>ID, tagID, then day, month, year and for some also hour, minute, second, found by header
name: ``day month year`` or ``date_day date_month date_year date_hour date_minute date_second``;
a missing hour, minute or second is 0). The item column's name varies (artistID, bookmarkID,
movieID): the second column is the item. Times are taken as UTC.

Mapping:

- Assignments stamped outside [1995-01-01, the conversion day) are dropped and counted (lastfm has
  assignments stamped 1956 or 1970), as are impossible dates (month 13, 31 February); the
  summary's saves and engagements lines say so. Everything below uses the kept assignments.
- pin = item; topic = the item's most often assigned tag (the number of distinct (user, tag)
  assignments; ties by smallest tagID), as the tag's text from ``tags.dat`` (columns tagID,
  tagValue: the first two, whatever their names) when present, else ``tag:<id>``. locale "und".
  created_at = its first assignment.
- board = (user, tag), board topic = the tag's text, board_id dense 1..n ordered by (user,
  tagID), owner = user.
- save per distinct (user, item, tag) assignment at its (first) time, into board (user, tag);
  repeated assignments are merged and counted.
- engagement: one "save" per distinct (user, item) at its first assignment time, client =
  --client, request_id null.
- users = every user appearing; created_at = first event. locale "und".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from pixie_assets.convert.common import (
    LOCALE_UNDETERMINED,
    MICROS_PER_SECOND,
    ConversionReport,
    Converted,
    ConvertError,
    constant,
    day_micros,
    decode,
    dense_ids,
    first_rows,
    group_starts,
    micros_to_timestamps,
    read_numeric,
    run,
    sort_order,
    text_lines,
)

EARLIEST_DAY = date(1995, 1, 1)
TIMESTAMPS_SUFFIX = "-timestamps.dat"
DATE_PARTS = ("year", "month", "day", "hour", "minute", "second")
MAX_ABS_MILLIS = 3_000 * 365 * 86_400_000


def conversion_day() -> date:
    return datetime.now(UTC).date()


def find_assignments(src: Path) -> Path:
    """The ``user_tagged*.dat`` file of SRC, the ``-timestamps`` variant preferred."""
    found = sorted(p for p in src.glob("user_tagged*.dat") if p.is_file())
    stamped = [p for p in found if p.name.endswith(TIMESTAMPS_SUFFIX)]
    candidates = stamped or found
    if not candidates:
        raise ConvertError(
            f"{src}: SRC holds no user_tagged*.dat file (expected e.g. "
            "user_taggedartists-timestamps.dat or user_taggedartists.dat of a HetRec 2011 release)"
        )
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise ConvertError(f"{src}: SRC holds several assignment files ({names}); give one release")
    return candidates[0]


def _header(path: Path) -> list[str]:
    with path.open("rb") as handle:
        first = decode(handle.readline()).lstrip("\ufeff").rstrip("\r\n")
    return [name.strip() for name in first.split("\t")]


def _event_micros(table: pa.Table, time_columns: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Event times in µs, and whether each is a possible time (a millisecond timestamp within
    ±3,000 years of 1970; a calendar date that exists)."""
    if "timestamp" in time_columns:
        millis = table[time_columns["timestamp"]].to_numpy()
        valid = np.abs(millis) < MAX_ABS_MILLIS
        return np.where(valid, millis, 0) * 1000, valid
    zeros = np.zeros(table.num_rows, dtype=np.int64)
    year, month, day, hour, minute, second = (
        table[time_columns[p]].to_numpy() if p in time_columns else zeros for p in DATE_PARTS
    )
    valid = (
        (year >= 1)
        & (year <= 9999)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (hour >= 0)
        & (hour <= 23)
        & (minute >= 0)
        & (minute <= 59)
        & (second >= 0)
        & (second <= 59)
    )
    months = np.where(valid, (year - 1970) * 12 + month - 1, 0)
    first_day = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_first = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    valid &= day <= next_first - first_day
    seconds = (first_day + day - 1) * 86_400 + hour * 3600 + minute * 60 + second
    return np.where(valid, seconds, 0) * MICROS_PER_SECOND, valid


def read_assignments(path: Path) -> tuple[pa.Table, str]:
    """user, item, tag and time (µs, with a validity flag) of every assignment; and how the time
    was given, for the summary."""
    header = _header(path)
    if len(header) < 4:
        raise ConvertError(
            f"{path.name}: expected a header with userID, <item>ID, tagID and the time "
            f"columns, found {' '.join(header) or 'an empty line'}"
        )
    if len(set(header)) != len(header) or "" in header:
        raise ConvertError(f"{path.name}: the header has empty or repeated column names: {header}")
    parts = {name.lower().removeprefix("date_"): name for name in header[3:]}
    if "timestamp" in parts:
        time_columns = {"timestamp": parts["timestamp"]}
        given = "timestamp in ms"
    elif all(part in parts for part in ("day", "month", "year")):
        time_columns = {part: parts[part] for part in DATE_PARTS if part in parts}
        given = " ".join(time_columns[p] for p in DATE_PARTS if p in time_columns)
    else:
        missing = "timestamp" if path.name.endswith(TIMESTAMPS_SUFFIX) else "day, month, year"
        raise ConvertError(
            f"{path.name}: missing column {missing!r} (its header: {' '.join(header)})"
        )
    types = {name: pa.int64() for name in [*header[:3], *time_columns.values()]}
    table = read_numeric(
        path,
        header,
        types,
        delimiter="\t",
        header=True,
        quoted=False,
        fields=lambda line: line.split("\t"),
        field_names=header,
        what="separated by tabs",
    )
    micros, valid = _event_micros(table, time_columns)
    return (
        pa.table(
            {
                "user": table[header[0]],
                "item": table[header[1]],
                "tag": table[header[2]],
                "micros": micros,
                "valid": valid,
            }
        ),
        given,
    )


def read_tags(src: Path) -> dict[int, str]:
    """tagID -> text from ``tags.dat`` (the first two columns; the header line skipped); empty
    when the file is absent."""
    path = src / "tags.dat"
    if not path.is_file():
        return {}
    tags: dict[int, str] = {}
    for number, line in text_lines(path):
        tag_id, _, value = line.partition("\t")
        try:
            key = int(tag_id.strip())
        except ValueError:
            if number == 1:
                continue  # the header
            raise ConvertError(
                f"{path.name}: line {number}: column 1 (tagID): {tag_id!r} is not an integer"
            ) from None
        if value.strip():
            tags.setdefault(key, value.strip())
    return tags


def read_hetrec(src: Path, client: str = "homefeed", today: date | None = None) -> Converted:
    """Find, read and map a HetRec release; no files are written. ``today`` is the conversion
    day (UTC today by default): assignments from it on are dropped."""
    src = Path(src)
    today = today or conversion_day()
    path = find_assignments(src)
    raw, given = read_assignments(path)
    tags = read_tags(src)

    micros = raw["micros"].to_numpy()
    valid = raw["valid"].to_numpy()
    before = valid & (micros < day_micros(EARLIEST_DAY))
    after = valid & (micros >= day_micros(today))
    keep = valid & ~before & ~after
    user, item, tag = (raw[c].to_numpy()[keep] for c in ("user", "item", "tag"))
    times = micros[keep]

    # Distinct (user, item, tag) assignments at their first time: the saves.
    first = first_rows([user, item, tag], times)
    s_user, s_item, s_tag, s_time = user[first], item[first], tag[first], times[first]
    board, board_first = dense_ids([s_user, s_tag])

    def text(tag_id: int) -> str:
        return tags.get(int(tag_id), f"tag:{int(tag_id)}")

    # Each item's most assigned tag: count distinct assignments per (item, tag), then per item
    # the largest count, ties to the smallest tagID.
    pair, pair_first = dense_ids([s_item, s_tag])
    counts = np.bincount(pair)[1:]
    p_item, p_tag = s_item[pair_first], s_tag[pair_first]
    order = sort_order([p_item, -counts, p_tag])
    best = order[group_starts([p_item[order]])]
    pin_first = first_rows([item], times)
    if not np.array_equal(item[pin_first], p_item[best]):  # both are the sorted distinct items
        raise AssertionError("items out of step")
    engaged = first_rows([user, item], times)
    user_first = first_rows([user], times)

    n_users, n_pins, n_engaged = len(user_first), len(pin_first), len(engaged)
    tables = {
        "users": pa.table(
            {
                "user_id": user[user_first],
                "locale": constant(LOCALE_UNDETERMINED, n_users),
                "created_at": micros_to_timestamps(times[user_first]),
            }
        ),
        "pins": pa.table(
            {
                "pin_id": item[pin_first],
                "locale": constant(LOCALE_UNDETERMINED, n_pins),
                "topic": pa.array([text(t) for t in p_tag[best]], pa.string()),
                "created_at": micros_to_timestamps(times[pin_first]),
            }
        ),
        "boards": pa.table(
            {
                "board_id": np.arange(1, len(board_first) + 1, dtype=np.int64),
                "owner_id": s_user[board_first],
                "topic": pa.array([text(t) for t in s_tag[board_first]], pa.string()),
            }
        ),
        "saves": pa.table(
            {
                "user_id": s_user,
                "pin_id": s_item,
                "board_id": board,
                "saved_at": micros_to_timestamps(s_time),
            }
        ),
        "engagements": pa.table(
            {
                "user_id": user[engaged],
                "pin_id": item[engaged],
                "action": constant("save", n_engaged),
                "client": constant(client, n_engaged),
                "request_id": pa.nulls(n_engaged, pa.string()),
                "ts": micros_to_timestamps(times[engaged]),
            }
        ),
    }

    total = raw.num_rows
    n_before, n_after, n_invalid = int(before.sum()), int(after.sum()), int((~valid).sum())
    dropped_rows = n_before + n_after + n_invalid
    merged = int(keep.sum()) - len(first)
    lost_users = len(np.unique(raw["user"].to_numpy())) - n_users
    lost_items = len(np.unique(raw["item"].to_numpy())) - n_pins
    untitled = sum(1 for t in np.unique(s_tag) if int(t) not in tags)
    dropped = (
        f"dropped {dropped_rows:,} of {total:,} assignments: {n_before:,} stamped before "
        f"{EARLIEST_DAY}, {n_after:,} on or after the conversion day {today}, "
        f"{n_invalid:,} with an impossible date"
    )
    lost = "; {n:,} more appear only in dropped assignments" if dropped_rows else ""
    notes = {
        "users": "every user with a kept assignment; created_at = first"
        + lost.format(n=lost_users),
        "pins": "tagged items; topic = most assigned tag"
        + (f"; {untitled:,} tag(s) without text in tags.dat (tag:<id>)" if untitled else "")
        + lost.format(n=lost_items),
        "boards": "one per (user, tag); ids by (user, tagID)",
        "saves": f"one per distinct (user, item, tag) at its first time (repeated assignments "
        f"merged: {merged:,}); {dropped}",
        "engagements": f"one save per distinct (user, item) at its first time; {dropped}",
    }
    return Converted(
        dataset="hetrec",
        source=f"{path.name} ({given})" + (" + tags.dat" if tags else ", no tags.dat"),
        tables=tables,
        notes=notes,
        dropped={
            "assignments": dropped_rows,
            "before_1995": n_before,
            "from_conversion_day": n_after,
            "impossible_date": n_invalid,
            "repeated_assignments_merged": merged,
        },
    )


def convert_hetrec(
    src: Path, dest: Path, client: str = "homefeed", today: date | None = None
) -> ConversionReport:
    """Convert the HetRec 2011 release in ``src`` into the new landing folder ``dest``,
    validated."""
    return run(lambda: read_hetrec(Path(src), client, today), src, dest, client)
