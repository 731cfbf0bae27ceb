"""World mode's serving of one shard of a day × client partition: the unit of work that
``serving_logs`` maps over the day's candidate part files, in process or on a Dask cluster.

A task describes its work (paths, seeds, the model's label) and carries no data, so it pickles
small: a worker reads its shard's candidates, featurizes and scores them, plays the full ranker
and the users, and writes the shard's part file of each landing table into the staging folders
the driver created. What a shard draws depends on the shard alone (its own seed; the full
ranker's noise is keyed by the partition, per (request, pin)), so the part files are the same
bytes wherever and in whatever order the shards ran.

What every shard of a day shares is built once per worker process and kept while the day lasts,
in small caches keyed by what it was built from: the feature context (users, pins and the day's
recent saves and engagements, in DuckDB), the scorer (loading one checks the registry's digests),
the world's truth and where saves land. Peak memory is then the day's fixed inputs plus one
shard, whatever the day's traffic.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, TypeVar

import pyarrow.parquet as pq

from pixie_assets.core.clients import client_config
from pixie_assets.core.files import write_parquet
from pixie_assets.core.seeds import partition_seed
from pixie_assets.core.settings import Settings
from pixie_assets.landing.sources import day_feature_context, read_table, table_files
from pixie_assets.serving.featurize import FeatureContext, FeatureSpec, spec_digest
from pixie_assets.serving.pipeline import score_candidates
from pixie_assets.serving.scoring import Scorer
from pixie_assets.training.serving_model import serving_scorer_for
from pixie_assets.world.simulator import SaveTargets, serve_world_requests
from pixie_assets.world.truth import WorldTruth

# What a served partition writes, one folder each (landing/<table>/day=D/client=C/).
LANDING_TABLES = ("serving_log", "impressions", "engagements", "saves")
# The contract tables a shard reads besides its candidates: the inputs of the day's cache key.
_INPUT_TABLES = ("users", "pins", "boards", "saves", "engagements")
# The seed purpose of the full ranker's noise: the partition's, as before shards existed.
NOISE_PURPOSE = "serving"


@dataclass(frozen=True)
class ServeShardTask:
    """One candidates part file of a day × client partition to serve with ``model``, writing a
    part file of the same name into each of ``out_dirs`` (landing table → staging folder)."""

    settings: Settings
    day: date
    client: str
    model: str  # the scorer's label as logged: pinned by the driver, so every shard agrees
    candidates: str  # the shard's candidates part file
    out_dirs: Mapping[str, str]
    inputs_key: str  # ``day_inputs_key``: which cached day inputs this shard may reuse
    seed: int  # the shard's: exploration slots and user actions
    noise_seed: int  # the partition's: the full ranker's noise per (request, pin)
    threads: int | None = None  # DuckDB and XGBoost threads; None: every core

    @property
    def part_name(self) -> str:
        return Path(self.candidates).name


@dataclass(frozen=True)
class ServeShardResult:
    """What the driver needs of a served shard for its metadata: counts, never rows."""

    part_name: str
    requests: int
    rows: dict[str, int]
    actions: dict[str, int]
    seconds: float


def shard_seed(settings: Settings, day: date, client: str, part: str | Path) -> int:
    """The seed of one shard's draws, named by its part file, so a shard draws the same
    whichever worker serves it and whenever."""
    return partition_seed(settings.world_seed, day, client, f"serving/{Path(part).stem}")


def day_inputs_key(settings: Settings, day: date) -> str:
    """A digest of the identity (path, inode, size, modification time) of every file a shard of
    ``day`` reads besides its candidates: the contract tables before the day and the world's
    truth. Workers reuse their cached inputs only under the same key, so a rewritten landing
    day or a regenerated world is read again."""
    paths = [path for table in _INPUT_TABLES for path in table_files(settings, table, day)]
    paths += sorted(settings.truth_dir.glob("*"))
    digest = hashlib.sha256(f"{settings.home}|{day.isoformat()}".encode())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{path}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def plan_serve_shards(
    settings: Settings,
    day: date,
    client: str,
    model: str,
    parts: Iterable[Path],
    out_dirs: Mapping[str, Path],
    threads: int | None = None,
) -> list[ServeShardTask]:
    """One task per candidates part file, in part order."""
    key = day_inputs_key(settings, day)
    noise_seed = partition_seed(settings.world_seed, day, client, NOISE_PURPOSE)
    folders = {table: str(folder) for table, folder in out_dirs.items()}
    return [
        ServeShardTask(
            settings=settings,
            day=day,
            client=client,
            model=model,
            candidates=str(part),
            out_dirs=folders,
            inputs_key=key,
            seed=shard_seed(settings, day, client, part),
            noise_seed=noise_seed,
            threads=threads,
        )
        for part in parts
    ]


def serve_shard(task: ServeShardTask) -> ServeShardResult:
    """Serve one shard and write its part file of every landing table; an importable function
    of a picklable task, so any ``ShardRunner`` can run it."""
    missing = set(LANDING_TABLES) - set(task.out_dirs)
    if missing:
        raise ValueError(f"{task.part_name}: no staging folder for {', '.join(sorted(missing))}")
    started = time.perf_counter()
    scorer = _scorer(task)
    context = _feature_context(task, scorer.feature_spec)
    world = _day_world(task)
    candidates = pq.read_table(task.candidates).to_pandas()
    scored = score_candidates(candidates, context, scorer)
    tables = serve_world_requests(
        world.truth,
        client_config(task.client),
        scored,
        world.targets,
        seed=task.seed,
        noise_seed=task.noise_seed,
    )
    for table, data in tables.items():
        write_parquet(data, Path(task.out_dirs[table]) / task.part_name)
    return ServeShardResult(
        part_name=task.part_name,
        requests=int(candidates["request_id"].nunique()),
        rows={table: data.num_rows for table, data in tables.items()},
        actions=dict(Counter(tables["engagements"]["action"].to_pylist())),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class ServingSummary:
    """A partition's figures from its shards' results, as if served at once."""

    requests: int
    rows: dict[str, int]
    actions: dict[str, int]
    shard_seconds: float


def summarize_shards(results: Iterable[ServeShardResult]) -> ServingSummary:
    requests, rows, actions, seconds = 0, Counter(), Counter(), 0.0
    for result in results:
        requests += result.requests
        rows.update(result.rows)
        actions.update(result.actions)
        seconds += result.seconds
    return ServingSummary(requests, dict(rows), dict(actions), seconds)


# --- per-process caches: built once per day (or model), whatever number of shards ----------------

K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """The few most recently used values by key, built on a miss; the oldest is dropped (and
    ``release``d) beyond ``size``, so a worker that moves on to another day frees the last."""

    def __init__(self, size: int, release: Callable[[V], None] | None = None) -> None:
        self.size = size
        self.release = release
        self.values: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, build: Callable[[], V]) -> V:
        if key in self.values:
            self.values.move_to_end(key)
            return self.values[key]
        value = build()
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        self.values[key] = value
        self.values.move_to_end(key)
        while len(self.values) > self.size:
            _, dropped = self.values.popitem(last=False)
            if self.release is not None:
                self.release(dropped)

    def clear(self) -> None:
        while self.values:
            _, dropped = self.values.popitem(last=False)
            if self.release is not None:
                self.release(dropped)


@dataclass(frozen=True)
class _DayWorld:
    truth: WorldTruth  # memory-mapped
    targets: SaveTargets


# (home, client, model label): a process may serve several clients of a day
_SCORERS: _Recent[tuple[str, str, str], Scorer] = _Recent(4)
# (inputs key, spec digest, threads): clients whose models share a feature spec share one
_CONTEXTS: _Recent[tuple[str, str, int | None], FeatureContext] = _Recent(2, FeatureContext.close)
# inputs key
_WORLDS: _Recent[str, _DayWorld] = _Recent(1)


def remember_scorer(settings: Settings, client: str, scorer: Scorer) -> None:
    """Offer the scorer the driver already loaded to shards run in its own process (in process,
    they then skip loading it again); keyed by its label, as tasks ask for it."""
    _SCORERS.put((str(settings.home), client, scorer.version), scorer)


def release_caches() -> None:
    """Drop every cached input of this process (closing the feature contexts): the driver calls
    it when its step ends, so a long-lived process does not keep a day it has finished."""
    for cache in (_SCORERS, _CONTEXTS, _WORLDS):
        cache.clear()


def _scorer(task: ServeShardTask) -> Scorer:
    def load() -> Scorer:
        scorer = serving_scorer_for(task.settings, task.client, task.model)
        if scorer.version != task.model:
            raise ValueError(f"asked for model {task.model!r}, loaded {scorer.version!r}")
        booster = getattr(scorer, "booster", None)
        if task.threads and booster is not None:
            booster.set_param({"nthread": task.threads})  # one core per Dask worker thread
        return scorer

    return _SCORERS.get((str(task.settings.home), task.client, task.model), load)


def _feature_context(task: ServeShardTask, spec: FeatureSpec) -> FeatureContext:
    def build() -> FeatureContext:
        context = day_feature_context(task.settings, task.day, spec, task.threads)
        # The context outlives each shard's query: DuckDB should hand what a query freed back
        # at once rather than keep up to its flush thresholds (128 and 512 MiB) on top of the
        # simulation that follows (~100 MB less peak for a shard of 800k candidates).
        for setting in ("allocator_flush_threshold", "allocator_bulk_deallocation_flush_threshold"):
            context.con.execute(f"SET {setting} = '0MB'")
        return context

    return _CONTEXTS.get((task.inputs_key, spec_digest(spec), task.threads), build)


def _day_world(task: ServeShardTask) -> _DayWorld:
    def build() -> _DayWorld:
        settings = task.settings
        boards = read_table(settings, "boards", columns=["board_id", "owner_id", "topic"])
        pins = read_table(settings, "pins", columns=["pin_id", "topic"])
        return _DayWorld(
            truth=WorldTruth.load(settings.truth_dir),
            targets=SaveTargets.build(boards.to_pandas(), pins.to_pandas()),
        )

    return _WORLDS.get(task.inputs_key, build)
