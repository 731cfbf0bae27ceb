"""What the converters share: reading delimited source files with errors that name the file and
the line, dense ids for groups of rows, and writing a landing folder fast in the contract layout.

Writing goes through ``pixie_assets.landing.write_landing_table`` (one file per day, thousands for a
long public log). The folder is written into a hidden staging sibling and moved into place only
when complete (``files.staged_directory``), so a failed conversion leaves DEST as it was.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from pixie_assets.core.files import staged_directory
from pixie_assets.landing import validate_landing, write_landing_table

TABLES: tuple[str, ...] = ("users", "pins", "boards", "saves", "engagements")
LOCALE_UNDETERMINED = "und"  # BCP 47 "undetermined": the public datasets carry no language
MICROS_PER_SECOND = 1_000_000
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND
EPOCH = date(1970, 1, 1)
_CLIENT = re.compile(r"^[^/\\]+$")


class ConvertError(ValueError):
    """A source folder or a destination the converter cannot use; the message names the file
    and, where it applies, the column or line."""


@dataclass
class Converted:
    """The five landing tables of a dataset, with one note per table saying what its rows are
    and what was left out, and the counts of what was dropped."""

    dataset: str
    source: str
    tables: dict[str, pa.Table]
    notes: dict[str, str]
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class ConversionReport:
    """What a conversion wrote: row counts, notes, drops and the time it took."""

    dataset: str
    source: str
    dest: Path
    counts: dict[str, int]
    notes: dict[str, str]
    dropped: dict[str, int]
    convert_seconds: float
    validate_seconds: float

    def lines(self) -> list[str]:
        """One line per table, a line for the validation, then one JSON line of the counts."""
        width = max(len(t) for t in TABLES) + 1
        out = [
            f"{table + ':':<{width}} {self.counts[table]:>10,} rows  {self.notes[table]}"
            for table in TABLES
        ]
        out.append(
            f"{self.dest}: valid landing folder ({self.source}; converted in "
            f"{self.convert_seconds:.2f} s, validated in {self.validate_seconds:.2f} s)"
        )
        out.append(json.dumps(self.as_dict()))
        return out

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "dest": str(self.dest),
            **self.counts,
            "dropped": self.dropped,
            "convert_seconds": round(self.convert_seconds, 3),
            "validate_seconds": round(self.validate_seconds, 3),
        }


# --- checks ----------------------------------------------------------------------------------


def check_source(src: Path) -> None:
    if not src.is_dir():
        raise ConvertError(f"{src}: SRC is not a folder (give the unpacked release's folder)")


def check_dest(dest: Path) -> None:
    """DEST must be new or empty: a conversion never mixes with, or replaces, existing files."""
    if dest.exists() and not dest.is_dir():
        raise ConvertError(f"{dest}: DEST exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise ConvertError(
            f"{dest}: DEST is not empty; give a new or empty folder (nothing was written)"
        )


def check_client(client: str) -> None:
    if not client or not _CLIENT.match(client) or client.strip() != client:
        raise ConvertError(
            f"--client {client!r}: give a non-empty surface name without slashes or spaces "
            "at its ends (it becomes the folder client=<c>)"
        )


# --- reading ---------------------------------------------------------------------------------


def decode(raw: bytes) -> str:
    """UTF-8 where the bytes are valid UTF-8, else Latin-1 (the older releases' encoding), which
    decodes any byte: reading never fails on encoding."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, text without the line end) of every non-blank line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = decode(raw).rstrip("\r\n")
            if line.strip():
                yield number, line


def csv_header(path: Path) -> list[str]:
    """The first line of a comma-separated file, as column names (a UTF-8 BOM is dropped)."""
    with path.open("rb") as handle:
        first = decode(handle.readline()).lstrip("\ufeff").rstrip("\r\n")
    return [name.strip() for name in next(csv.reader(io.StringIO(first)), [])]


def require_columns(path: Path, found: Sequence[str], needed: Sequence[str]) -> None:
    for name in needed:
        if name not in found:
            raise ConvertError(
                f"{path.name}: missing column {name!r} (its header: {','.join(found) or 'empty'})"
            )


def _parse(kind: type, text: str) -> bool:
    try:
        value = kind(text)
    except ValueError:
        return False
    return kind is not float or math.isfinite(value)


def first_bad_line(
    path: Path,
    split: Callable[[str], list[str]],
    columns: Mapping[int, tuple[str, type]],
    n_fields: int | None,
    header: bool,
    what: str,
) -> str | None:
    """Where a file that Arrow refused goes wrong, for the message: the first line with the
    wrong number of fields or a value that is not a number ("line 7: column 'rating': 'x' is
    not a number"). Arrow parses in parallel and does not say."""
    for number, line in text_lines(path):
        if header and number == 1:
            continue
        fields = split(line)
        if n_fields is not None and len(fields) != n_fields:
            return f"line {number}: expected {n_fields} fields {what}, found {len(fields)}"
        for index, (name, kind) in columns.items():
            if index >= len(fields):
                return f"line {number}: no value for column {name!r}"
            value = fields[index].strip()
            if not _parse(kind, value):
                noun = "an integer" if kind is int else "a finite number"
                return f"line {number}: column {name!r}: {value!r} is not {noun}"
    return None


def read_numeric(
    path: Path,
    names: Sequence[str],
    types: Mapping[str, pa.DataType],
    *,
    delimiter: str,
    header: bool,
    quoted: bool,
    fields: Callable[[str], list[str]],
    field_names: Sequence[str],
    what: str,
) -> pa.Table:
    """Read the numeric columns ``types`` of a delimited file with Arrow (multi-threaded); Arrow
    sees the columns ``names``. Empty values are errors, not nulls. On failure the message names
    the file and the first bad line, found by splitting lines with ``fields`` into the columns
    ``field_names`` (``what`` says how they are separated)."""
    positions = {
        i: (name, int if pa.types.is_integer(types[name]) else float)
        for i, name in enumerate(field_names)
        if name in types
    }

    def bad_line(n_fields: int | None) -> str | None:
        return first_bad_line(path, fields, positions, n_fields, header, what)

    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(
                column_names=list(names), skip_rows=1 if header else 0, block_size=1 << 24
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=delimiter, quote_char='"' if quoted else False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict(types),
                include_columns=[n for n in names if n in types],
                null_values=[],
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        detail = bad_line(len(field_names)) or str(error).splitlines()[0]
        raise ConvertError(f"{path.name}: {detail}") from None
    for name, dtype in types.items():
        if pa.types.is_floating(dtype) and not np.isfinite(table[name].to_numpy()).all():
            detail = bad_line(None) or f"column {name!r} holds a value that is not finite"
            raise ConvertError(f"{path.name}: {detail}")
    return table


# --- ids and groups ----------------------------------------------------------------------------


def sort_order(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Row order sorted by ``keys`` (the first most significant), stable."""
    return np.lexsort(tuple(reversed(keys)))


def group_starts(sorted_keys: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean mask of the rows (in sorted order) where a new combination of keys begins."""
    n = len(sorted_keys[0])
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
    for key in sorted_keys:
        change[1:] |= key[1:] != key[:-1]
    return change


def dense_ids(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ids 1..n for the distinct combinations of ``keys``, numbered in key order, one per row;
    and for each id the row where it first occurs (so ``key[firsts[i - 1]]`` is id i's key)."""
    order = sort_order(keys)
    starts = group_starts([key[order] for key in keys])
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(starts)
    return ids, order[starts]


def first_rows(keys: Sequence[np.ndarray], times: np.ndarray) -> np.ndarray:
    """The earliest row of each distinct combination of ``keys``, in key order (ties: the row
    that comes first)."""
    order = sort_order([*keys, times])
    return order[group_starts([key[order] for key in keys])]


def micros_to_timestamps(micros: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(micros, dtype=np.int64), pa.int64()).cast(pa.timestamp("us"))


def day_micros(day: date) -> int:
    return (day - EPOCH).days * MICROS_PER_DAY


def string_codes(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes of ``values`` in the sorted list of distinct values, so codes order like names."""
    names = sorted(set(values))
    index = {name: code for code, name in enumerate(names)}
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values)), names


def constant(value: str, n: int) -> pa.Array:
    """A column holding one string n times, dictionary-encoded until it is written."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([value]))


# --- writing -------------------------------------------------------------------------------------


def write_landing(dest: Path, converted: Converted, client: str) -> None:
    """The five tables into DEST in the contract layout, atomically."""
    with staged_directory(dest) as staging:
        for table in ("users", "pins", "boards"):
            write_landing_table(staging, table, converted.tables[table])
        write_landing_table(staging, "saves", converted.tables["saves"])
        write_landing_table(staging, "engagements", converted.tables["engagements"], client=client)


def run(read: Callable[[], Converted], src: Path, dest: Path, client: str) -> ConversionReport:
    """Check the folders, convert, write DEST and validate it against the landing contract."""
    src, dest = Path(src), Path(dest)
    check_client(client)
    check_source(src)
    check_dest(dest)
    started = time.perf_counter()
    converted = read()
    for table in ("saves", "engagements"):
        if converted.tables[table].num_rows == 0:
            raise ConvertError(
                f"{converted.source}: no {table} after conversion ({converted.notes[table]})"
            )
    write_landing(dest, converted, client)
    convert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    validate_landing(dest, use_cache=False)
    return ConversionReport(
        dataset=converted.dataset,
        source=converted.source,
        dest=dest,
        counts={t: converted.tables[t].num_rows for t in TABLES},
        notes=converted.notes,
        dropped=converted.dropped,
        convert_seconds=convert_seconds,
        validate_seconds=time.perf_counter() - started,
    )
