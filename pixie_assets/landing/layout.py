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
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
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
# a partition is complete once the required ones hold files (engagements may be none).
PARTITION_TABLES: tuple[str, ...] = tuple(contract.SERVING_TABLES)
REQUIRED_PARTITION_TABLES: tuple[str, ...] = ("serving_log", "impressions")

_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
_CLIENT = re.compile(r"^client=([^/\\]+)$")
_NOT_PARQUET = "not a *.parquet file (convert it: see the README)"

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


def complete_partitions(landing_dir: Path) -> dict[tuple[str, str], float]:
    """(day, client) partitions whose required tables (serving_log, impressions) all hold data
    files, with the newest modification time among them (a change marker)."""
    newest: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for table in REQUIRED_PARTITION_TABLES:
        for file in scan_table(landing_dir, table).files:
            key = (file.day.isoformat(), file.client)
            stamp = file.path.stat().st_mtime
            newest[key][table] = max(newest[key].get(table, 0.0), stamp)
    return {
        key: max(stamps.values())
        for key, stamps in newest.items()
        if len(stamps) == len(REQUIRED_PARTITION_TABLES)
    }
