"""The pin–board graph object and its on-disk form (one .npy per array, memory-mapped on load).

Everything is flat numpy arrays so that a day's graph can be shared by many worker processes via
the page cache and passed straight into numba kernels; there is no per-node Python object.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pixie_assets.core.files import staged_directory
from pixie_assets.graph.csr import lookup_runs

FORMAT_VERSION = 1
ARRAY_FIELDS: tuple[str, ...] = (
    "pin_indptr",
    "pin_boards",
    "board_indptr",
    "board_pins",
    "pin_ids",
    "board_ids",
    "pin_id_runs",
    "board_id_runs",
    "pin_locale",
    "board_locale",
)
CSR_FIELDS: tuple[str, ...] = ("pin_indptr", "pin_boards", "board_indptr", "board_pins")
META_FILE = "graph.json"


class _ScratchPool:
    """Reusable per-thread walk buffers, so a query never allocates (or zeroes) n_pins arrays.
    Buffers go back in their rest state (walks reset only what they touched)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[tuple[int, int], list[Any]] = {}

    def take(self, key: tuple[int, int], factory: Any) -> Any:
        with self._lock:
            stack = self._free.get(key)
            if stack:
                return stack.pop()
        return factory()

    def give(self, key: tuple[int, int], item: Any) -> None:
        with self._lock:
            self._free.setdefault(key, []).append(item)

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


@dataclass(frozen=True, eq=False)
class PinBoardGraph:
    """Bipartite pin–board graph, CSR in both directions, nodes labelled by descending degree
    class (see ``csr.relabel_by_degree``).

    pin_indptr int64[n_pins+1], pin_boards int32[n_edges]: boards of each pin.
    board_indptr int64[n_boards+1], board_pins int32[n_edges]: pins of each board.
    pin_ids / board_ids int64: label → external id; ids are ascending inside each run of
    ``*_id_runs`` (int64 run starts + end), which is what makes id → label a binary search.
    pin_locale / board_locale int16: code into ``locales`` (board = majority of its pins).
    ``meta`` is small JSON-able information (prune report, cutoff) saved beside the arrays.
    """

    pin_indptr: np.ndarray
    pin_boards: np.ndarray
    board_indptr: np.ndarray
    board_pins: np.ndarray
    pin_ids: np.ndarray
    board_ids: np.ndarray
    pin_id_runs: np.ndarray
    board_id_runs: np.ndarray
    pin_locale: np.ndarray
    board_locale: np.ndarray
    locales: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    scratch: _ScratchPool = field(default_factory=_ScratchPool, repr=False)

    @property
    def n_pins(self) -> int:
        return len(self.pin_indptr) - 1

    @property
    def n_boards(self) -> int:
        return len(self.board_indptr) - 1

    @property
    def n_edges(self) -> int:
        return len(self.pin_boards)

    @property
    def pin_degree(self) -> np.ndarray:
        """Boards per pin (computed on each access: O(n_pins))."""
        return np.diff(self.pin_indptr)

    @property
    def board_degree(self) -> np.ndarray:
        """Pins per board (computed on each access: O(n_boards))."""
        return np.diff(self.board_indptr)

    @cached_property
    def max_log_degree(self) -> float:
        """C of Pixie's step allocation: max over pins of ln(degree). Cached, and read from the
        first degree class only (labels are in descending degree class), so every query need
        not scan all pins."""
        if self.n_pins == 0:
            return 0.0
        top = int(self.pin_id_runs[1]) if len(self.pin_id_runs) > 1 else self.n_pins
        return float(np.log(np.diff(self.pin_indptr[: top + 1]).max()))

    def pin_index(self, pin_ids: np.ndarray) -> np.ndarray:
        """Labels (int32) of external pin ids; -1 for ids not in the graph."""
        return lookup_runs(self.pin_ids, self.pin_id_runs, pin_ids)

    def board_index(self, board_ids: np.ndarray) -> np.ndarray:
        """Labels (int32) of external board ids; -1 for ids not in the graph."""
        return lookup_runs(self.board_ids, self.board_id_runs, board_ids)

    def locale_code(self, locale: str | None) -> int:
        """Code of a locale string in this graph's vocabulary; -1 for None or unknown."""
        if locale is None:
            return -1
        try:
            return self.locales.index(locale)
        except ValueError:
            return -1

    def csr_nbytes(self) -> int:
        """Bytes of the four CSR arrays (the unavoidable part of the graph)."""
        return int(sum(getattr(self, f).nbytes for f in CSR_FIELDS))

    def nbytes(self) -> int:
        """Bytes of every array the graph holds (scratch buffers of walks are not the graph)."""
        return int(sum(getattr(self, f).nbytes for f in ARRAY_FIELDS))


def _readonly(a: np.ndarray) -> np.ndarray:
    """Graph arrays are immutable; making in-memory and mmapped graphs both read-only also means
    numba compiles the walk kernels once, not once per writability."""
    a = np.ascontiguousarray(a)
    if a.flags.writeable:
        a.setflags(write=False)
    return a


def make_graph(
    arrays: dict[str, np.ndarray], locales: tuple[str, ...], meta: dict
) -> PinBoardGraph:
    """Construct a graph with dtypes enforced (int64 indptr/ids, int32 labels, int16 locale)."""
    dtypes = {
        "pin_indptr": np.int64,
        "board_indptr": np.int64,
        "pin_boards": np.int32,
        "board_pins": np.int32,
        "pin_ids": np.int64,
        "board_ids": np.int64,
        "pin_id_runs": np.int64,
        "board_id_runs": np.int64,
        "pin_locale": np.int16,
        "board_locale": np.int16,
    }
    fixed = {}
    for name in ARRAY_FIELDS:
        a = arrays[name]
        if a.dtype != dtypes[name]:
            a = a.astype(dtypes[name])
        fixed[name] = _readonly(a)
    return PinBoardGraph(**fixed, locales=tuple(locales), meta=dict(meta))


def save_graph(graph: PinBoardGraph, directory: str | os.PathLike) -> Path:
    """Write the graph as ``<array>.npy`` files plus ``graph.json`` (vocabulary, sizes, meta).

    Written through ``pixie_assets.core.files.staged_directory``, so a reader never sees a
    half-written graph."""
    target = Path(directory)
    with staged_directory(target) as tmp:
        for name in ARRAY_FIELDS:
            np.save(tmp / f"{name}.npy", np.asarray(getattr(graph, name)), allow_pickle=False)
        meta = {
            "format_version": FORMAT_VERSION,
            "locales": list(graph.locales),
            "n_pins": graph.n_pins,
            "n_boards": graph.n_boards,
            "n_edges": graph.n_edges,
            "meta": graph.meta,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return target


def load_graph(directory: str | os.PathLike, mmap: bool = True) -> PinBoardGraph:
    """Load a saved graph; with ``mmap`` the arrays are read-only memory maps (page-cache
    shared between processes, nothing read until a walk touches it)."""
    path = Path(directory)
    info = json.loads((path / META_FILE).read_text())
    if info.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported graph format {info.get('format_version')!r}")
    arrays = {}
    for name in ARRAY_FIELDS:
        a = np.load(path / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        # a plain ndarray view of the map: numba types memmap subclasses the same way, but
        # keeping one array type avoids surprises downstream.
        arrays[name] = a.view(np.ndarray) if isinstance(a, np.memmap) else a
    return make_graph(arrays, tuple(info["locales"]), info.get("meta", {}))


def read_graph_meta(directory: str | os.PathLike) -> dict[str, Any]:
    """The JSON side-car alone (sizes, locales, prune report) without touching the arrays."""
    return json.loads((Path(directory) / META_FILE).read_text())


_CACHED: dict[str, tuple[tuple[int, int], PinBoardGraph]] = {}


def cached_graph(directory: str | os.PathLike) -> PinBoardGraph:
    """``load_graph`` once per process and graph: a worker that walks many shards of a day maps
    the day's arrays once. Keyed by the folder and its side-car's identity (inode, mtime), so a
    rebuilt graph (saved by swapping the folder) is loaded again; the previous one is dropped."""
    path = Path(directory).resolve()
    stat = (path / META_FILE).stat()
    identity = (stat.st_ino, stat.st_mtime_ns)
    cached = _CACHED.get(str(path))
    if cached is None or cached[0] != identity:
        _CACHED[str(path)] = (identity, load_graph(path))
    return _CACHED[str(path)][1]
