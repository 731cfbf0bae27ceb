"""The landing folder's layout (docs/architecture.md §3) and the one way its data files are listed::

    users/*.parquet   pins/*.parquet   boards/*.parquet
    saves/day=YYYY-MM-DD/[client=<c>/]*.parquet
    engagements/day=YYYY-MM-DD/[client=<c>/]*.parquet
    serving_log/day=YYYY-MM-DD/client=<c>/*.parquet
    impressions/day=YYYY-MM-DD/client=<c>/*.parquet

Names starting with ``.`` or ``_`` are never data: by the Hadoop/Spark convention they are
in-progress or marker files (``_SUCCESS``), and ``core.files.staged_directory`` writes into hidden
folders. Folder validation, partition ingestion, the landing sensor and world mode's sources all
list files through ``scan_table`` or ``data_files``, so they agree on what a data file is.

A writer finishes a folder by writing an empty ``_SUCCESS`` last (``is_complete``), as Hadoop and
Spark output committers do: a file list alone cannot tell a finished partition from one whose
writer is still at work. ``scan_partitions`` sorts a landing folder's (day, client) partitions
into ready ones, each with a fingerprint of its file set, and folders to skip, each with a reason.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

from pixie_assets.core import contract

FLAT, DAILY, DAILY_CLIENT = "flat", "daily", "daily_client"

LAYOUT: dict[str, str] = {
    "users": FLAT,
    "pins": FLAT,
    "boards": FLAT,
    "saves": DAILY,
    "engagements": DAILY,
    "serving_log": DAILY_CLIENT,
    "impressions": DAILY_CLIENT,
}
# The tables landing and replay mode read as inputs (``landing.sources.read_table``).
SOURCE_TABLES: tuple[str, ...] = tuple(contract.WORLD_TABLES)
# The tables of one (day, client) partition, as serving writes them and ingestion loads them;
# the required ones define the partition (engagements may be none, or come late).
PARTITION_TABLES: tuple[str, ...] = tuple(contract.SERVING_TABLES)
REQUIRED_PARTITION_TABLES: tuple[str, ...] = ("serving_log", "impressions")

_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
_CLIENT = re.compile(r"^client=([^/\\]+)$")
_NOT_PARQUET = "not a *.parquet file (convert it: see the README)"

# Written last, and empty, by whoever finishes a folder (Hadoop/Spark's output committers do the
# same); a leading "_" keeps it out of every listing of data files.
SUCCESS_MARKER = "_SUCCESS"

# A file's identity when it was looked at: (inode, size, modification time in ns).
Fingerprint = tuple[int, int, int]


@dataclass(frozen=True)
class LandingFile:
    """One data file: its table, and the day and client of its folders (None where the layout
    has no such folder)."""

    path: Path
    table: str
    day: date | None = None
    client: str | None = None


@dataclass
class TableScan:
    """A table's data files in layout order, and the entries that break the layout (one line
    each, naming the entry)."""

    files: list[LandingFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def partition_dir(landing_dir: Path, table: str, day: date | str, client: str) -> Path:
    """``<landing>/<table>/day=YYYY-MM-DD/client=<client>``."""
    day_text = day.isoformat() if isinstance(day, date) else day
    return Path(landing_dir) / table / f"day={day_text}" / f"client={client}"


def fingerprint(path: Path) -> Fingerprint:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _is_skipped(path: Path) -> bool:
    return path.name.startswith((".", "_"))


def _is_data_file(path: Path) -> bool:
    return path.suffix == ".parquet" and path.is_file()


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder`` that may be data, sorted; [] for a missing folder."""
    if not folder.is_dir():
        return []
    return sorted(entry for entry in folder.iterdir() if not _is_skipped(entry))


def data_files(folder: Path) -> list[Path]:
    """The data files directly inside ``folder`` (a partition's folder, say), sorted."""
    return [entry for entry in _entries(folder) if _is_data_file(entry)]


GLOB_CHARACTERS = frozenset("*?[")


def glob_problem(path: Path) -> str | None:
    """A problem line when ``path`` holds a character DuckDB would expand as a glob pattern (it
    would then read other files than this one, e.g. sibling folders), else None."""
    found = sorted(GLOB_CHARACTERS & set(str(path)))
    if not found:
        return None
    return (
        f"{path}: the path contains {' '.join(repr(c) for c in found)}, which DuckDB reads as a "
        "pattern (it would read other files too); rename the folder or file"
    )


def leaf_contents(folder: Path, table: str) -> tuple[list[Path], list[str]]:
    """The data files of a leaf folder of ``table`` (a partition's, say), sorted, and a problem
    naming each other entry: a CSV or a sub-folder dropped there is never ignored in silence."""
    files, problems = [], []
    for entry in _entries(folder):
        if _is_data_file(entry):
            files.append(entry)
        elif entry.is_dir():
            problems.append(
                f"{entry}: unexpected folder inside {table}/ (expected *.parquet files here)"
            )
        else:
            problems.append(f"{entry}: {_NOT_PARQUET}")
    return files, problems


def _files_in(
    folder: Path, table: str, scan: TableScan, day: date | None, client: str | None
) -> None:
    """Add the data files of a leaf folder; anything else in it is a layout problem."""
    files, problems = leaf_contents(folder, table)
    scan.files += [LandingFile(path, table, day, client) for path in files]
    scan.problems += problems


def _folder_day(entry: Path) -> date | None:
    match = _DAY.match(entry.name)
    if not match or not entry.is_dir():
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:
        return None


def _day_folder(folder: Path, table: str, scan: TableScan, day: date) -> None:
    """Add the files of one day folder: in client=<c>/ folders, or (daily tables) directly."""
    for entry in _entries(folder):
        client = _CLIENT.match(entry.name)
        if client and entry.is_dir():
            _files_in(entry, table, scan, day, client[1])
        elif _is_data_file(entry) and LAYOUT[table] == DAILY:
            scan.files.append(LandingFile(entry, table, day))
        elif _is_data_file(entry):
            scan.problems.append(
                f"{entry}: {table} files belong in client=<c>/ folders inside {folder.name}/"
            )
        elif entry.is_dir():
            scan.problems.append(f"{entry}: not a client=<c> folder")
        else:
            scan.problems.append(f"{entry}: {_NOT_PARQUET}")


def scan_table(landing_dir: Path, table: str, before: date | None = None) -> TableScan:
    """List a table's data files following its layout (of days before ``before`` when given).
    Layout problems are returned, not raised, so validation can join them to one report."""
    folder = Path(landing_dir) / table
    scan = TableScan()
    if LAYOUT[table] == FLAT:
        _files_in(folder, table, scan, None, None)
        return scan
    for entry in _entries(folder):
        day = _folder_day(entry)
        if day is None:
            scan.problems.append(
                f"{entry}: not a day=YYYY-MM-DD folder; {table}/ holds one folder per day"
            )
        elif before is None or day < before:
            _day_folder(entry, table, scan, day)
    return scan


# --- completeness: which (day, client) partitions are ready to ingest --------------------------


def is_complete(folder: Path) -> bool:
    """Whether the writer of ``folder`` has finished: the ``_SUCCESS`` marker it writes after the
    data is there. Without it the folder may hold half a file, or some of the files."""
    return (Path(folder) / SUCCESS_MARKER).is_file()


def mark_complete(folder: str | os.PathLike[str]) -> None:
    """Write ``folder``'s ``_SUCCESS`` marker; call it once the last data file is in place.
    (Takes a plain string too: converters mark thousands of day folders.)"""
    with open(os.path.join(folder, SUCCESS_MARKER), "wb"):
        pass


class SkipKind(StrEnum):
    """Why a landing folder is not launched, worded for a count ("2 being written")."""

    MALFORMED = "malformed name"
    UNKNOWN_CLIENT = "unknown client"
    BEFORE_START = "before the start day"
    FUTURE = "in the future"
    IN_PROGRESS = "being written"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class SkippedFolder:
    """A folder left alone, and why. ``partition`` is its (day, client) when the folder is
    addressable and only waits for its writer, so a caller can remember it meanwhile."""

    folder: Path
    kind: SkipKind
    reason: str
    partition: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.folder}: {self.reason}"


@dataclass(frozen=True)
class ReadyPartition:
    """A complete (day, client) partition and the fingerprint of its whole file set."""

    day: str
    client: str
    fingerprint: str


@dataclass
class PartitionScan:
    """What ``scan_partitions`` found: ready partitions by (day, client), skipped folders by
    path."""

    ready: list[ReadyPartition] = field(default_factory=list)
    skipped: list[SkippedFolder] = field(default_factory=list)

    @property
    def in_progress(self) -> set[tuple[str, str]]:
        """The addressable partitions still being written."""
        return {s.partition for s in self.skipped if s.partition is not None}


def _fingerprinted(folder: Path) -> list[Path]:
    """What a partition folder's fingerprint covers: every entry ingestion looks at (data files
    and strays it would refuse) and the marker; not hidden or other ``_`` in-progress names,
    which writers churn without changing the data."""
    entries = _entries(folder)
    if (folder / SUCCESS_MARKER).is_file():
        entries.append(folder / SUCCESS_MARKER)
    return sorted(entries)


def partition_fingerprint(landing_dir: Path, day: date | str, client: str) -> str:
    """A short hash of the partition's file set: relative path, size and modification time (ns)
    of every file of its serving_log, impressions and engagements folders, marker included. Any
    late, rewritten or removed file changes it; a cursor holds 16 characters per partition.
    Raises ``FileNotFoundError`` when a file vanishes while being looked at."""
    landing_dir = Path(landing_dir)
    digest = hashlib.sha256()
    for table in PARTITION_TABLES:
        for entry in _fingerprinted(partition_dir(landing_dir, table, day, client)):
            stat = entry.stat()
            name = entry.relative_to(landing_dir).as_posix()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _listing(folder: Path, skipped: list[SkippedFolder]) -> list[Path]:
    """``_entries`` of ``folder``, or [] with the folder reported when it cannot be listed."""
    try:
        return _entries(folder)
    except OSError as error:
        skipped.append(SkippedFolder(folder, SkipKind.UNREADABLE, f"cannot be listed ({error})"))
        return []


def _day_problem(
    folder: Path, day: date | None, start_day: date, today: date
) -> SkippedFolder | None:
    """Why a day folder of serving_log/impressions names no partition, or None when it does."""
    if day is None:
        return SkippedFolder(folder, SkipKind.MALFORMED, "not a day=YYYY-MM-DD folder")
    if day < start_day:
        return SkippedFolder(
            folder,
            SkipKind.BEFORE_START,
            f"day {day} is before the start day {start_day} (PIXIE_START_DAY); no partition",
        )
    if day > today:
        return SkippedFolder(
            folder, SkipKind.FUTURE, f"day {day} is after today ({today}, UTC); no partition yet"
        )
    return None


def _client_folders(
    landing_dir: Path,
    table: str,
    clients: Collection[str],
    start_day: date,
    today: date,
    skipped: list[SkippedFolder],
) -> dict[tuple[str, str], Path]:
    """The addressable ``<table>/day=D/client=C`` folders by (day, client); every other entry is
    reported in ``skipped``, so one bad name never hides the good folders beside it."""
    found: dict[tuple[str, str], Path] = {}
    for day_folder in _listing(Path(landing_dir) / table, skipped):
        day = _folder_day(day_folder)
        problem = _day_problem(day_folder, day, start_day, today)
        if problem is not None:
            skipped.append(problem)
            continue
        for folder in _listing(day_folder, skipped):
            match = _CLIENT.match(folder.name)
            if not match or not folder.is_dir():
                skipped.append(SkippedFolder(folder, SkipKind.MALFORMED, "not a client=<c> folder"))
            elif match[1] not in clients:
                configured = ", ".join(sorted(clients)) or "(none)"
                skipped.append(
                    SkippedFolder(
                        folder,
                        SkipKind.UNKNOWN_CLIENT,
                        f"client {match[1]!r} is not configured (configured: {configured})",
                    )
                )
            else:
                found[(day.isoformat(), match[1])] = folder
    return found


def _waiting(landing_dir: Path, day: str, client: str) -> list[SkippedFolder]:
    """The folders of an addressable partition that its writers have not finished: a required
    one missing or unmarked, or an engagements folder without its marker."""
    waiting = []
    for table in PARTITION_TABLES:
        folder = partition_dir(landing_dir, table, day, client)
        if table in REQUIRED_PARTITION_TABLES and not folder.is_dir():
            reason = "not written yet (the partition's other table is there)"
        elif folder.is_dir() and not is_complete(folder):
            reason = f"no {SUCCESS_MARKER} marker: its writer has not finished"
        else:
            continue
        waiting.append(SkippedFolder(folder, SkipKind.IN_PROGRESS, reason, (day, client)))
    return waiting


def scan_partitions(
    landing_dir: Path, clients: Collection[str], start_day: date, today: date
) -> PartitionScan:
    """Sort the landing folder's (day, client) partitions into ready ones (serving_log and
    impressions marked complete, and engagements too when its folder exists), each with its
    ``partition_fingerprint``, and folders skipped with a reason: names that address no
    partition (not ``day=``/``client=``, an unknown client, a day before ``start_day`` or after
    ``today``) and partitions still being written.

    Partitions are found through serving_log and impressions only: an engagements folder without
    them is history (landing mode reads it as an input, from any day), not a partition to load.
    Engagements directly in ``engagements/day=D/`` belong to no client and are not ingested per
    partition, so they are not in any fingerprint."""
    landing_dir = Path(landing_dir)
    scan = PartitionScan()
    keys: set[tuple[str, str]] = set()
    for table in REQUIRED_PARTITION_TABLES:
        keys |= _client_folders(landing_dir, table, clients, start_day, today, scan.skipped).keys()
    for day, client in sorted(keys):
        waiting = _waiting(landing_dir, day, client)
        if not waiting:
            try:
                stamp = partition_fingerprint(landing_dir, day, client)
            except FileNotFoundError as error:
                reason = f"a file vanished while it was listed ({error.filename}); a rewrite?"
                folder = partition_dir(landing_dir, "serving_log", day, client)
                waiting = [SkippedFolder(folder, SkipKind.IN_PROGRESS, reason, (day, client))]
            else:
                scan.ready.append(ReadyPartition(day, client, stamp))
        scan.skipped += waiting
    scan.skipped.sort(key=lambda skipped: str(skipped.folder))
    return scan
