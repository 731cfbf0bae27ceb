"""World-mode serving in shards (#14): each candidates part file served on its own, in any order
and with cold or warm per-process caches, gives the same bytes; concatenated, the parts keep the
contract and the funnel's row relations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixie_assets.core import contract
from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.files import write_parquet
from pixie_assets.core.settings import Settings
from pixie_assets.distributed import InProcessRunner
from pixie_assets.graph import PruneConfig, build_pin_board_graph
from pixie_assets.landing import SUCCESS_MARKER, data_files, partition_dir
from pixie_assets.landing.write import staged_partition
from pixie_assets.serving.candidates import generate_candidates
from pixie_assets.serving.queries import engagement_weights, recent_engagement_queries
from pixie_assets.serving.traffic import sample_requests
from pixie_assets.world import write_world
from pixie_assets.world.serve_shards import (
    LANDING_TABLES,
    plan_serve_shards,
    release_caches,
    serve_shard,
    summarize_shards,
)

DAY = date(2026, 11, 1)
CLIENT = "homefeed"
CONFIG = CLIENTS[CLIENT]
SHARDS, REQUESTS_PER_SHARD = 3, 15
SCHEMAS = {
    "serving_log": contract.SERVING_LOG,
    "impressions": contract.IMPRESSIONS,
    "engagements": contract.ENGAGEMENTS,
    "saves": contract.SAVES,
}


@pytest.fixture(scope="module")
def day(tiny_world, tmp_path_factory) -> tuple[Settings, list[Path]]:
    """The tiny world on disk and three candidates part files of 15 requests each, in request
    order, as ``walk_candidates`` writes them."""
    settings = Settings(home=tmp_path_factory.mktemp("serve_shards"), world_scale="tiny")
    write_world(tiny_world, settings.world_dir, settings.truth_dir)
    t = tiny_world.tables
    graph, _ = build_pin_board_graph(
        t["saves"], t["pins"], t["boards"], np.datetime64(DAY.isoformat()), PruneConfig()
    )
    weights = engagement_weights(t["engagements"].to_pandas(), CONFIG, DAY)
    requests = sample_requests(
        tiny_world.truth.hidden_activity(), len(tiny_world.truth.user_ids), CONFIG, DAY, 7, weights
    ).head(SHARDS * REQUESTS_PER_SHARD)
    queries = recent_engagement_queries(requests, weights, CONFIG)
    candidates, _ = generate_candidates(graph, requests, queries, CONFIG, seed=1)
    position = candidates["request_id"].map({r: i for i, r in enumerate(requests["request_id"])})
    folder = settings.candidates_partition_dir(DAY.isoformat(), CLIENT)
    folder.mkdir(parents=True)
    parts = []
    for shard in range(SHARDS):
        rows = candidates[position // REQUESTS_PER_SHARD == shard]
        parts.append(folder / f"part-{shard:05d}.parquet")
        write_parquet(pa.Table.from_pandas(rows, preserve_index=False), parts[-1])
    return settings, parts


def _serve(settings: Settings, parts: list[Path], out: Path, reverse: bool = False) -> list:
    """Serve every part with visit count into ``out/<table>/``; shards in reverse order when
    asked (as a cluster may finish them)."""
    out_dirs = {table: out / table for table in LANDING_TABLES}
    for folder in out_dirs.values():
        folder.mkdir(parents=True)
    tasks = plan_serve_shards(settings, DAY, CLIENT, "visit_count", parts, out_dirs)
    results = InProcessRunner().map(serve_shard, tasks[::-1] if reverse else tasks)
    return results[::-1] if reverse else results


def _bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def _table(out: Path, table: str) -> pa.Table:
    files = sorted((out / table).glob("part-*.parquet"))
    assert [f.name for f in files] == [f"part-{i:05d}.parquet" for i in range(SHARDS)], table
    return pa.concat_tables(pq.read_table(f) for f in files)


@pytest.fixture(scope="module")
def served(day, tmp_path_factory) -> tuple[Path, list]:
    settings, parts = day
    out = tmp_path_factory.mktemp("served")
    release_caches()
    return out, _serve(settings, parts, out)


def test_shards_give_the_same_bytes_in_any_order_with_cold_or_warm_caches(day, served, tmp_path):
    settings, parts = day
    out, _ = served
    _serve(settings, parts, tmp_path / "warm", reverse=True)  # caches kept from the first run
    release_caches()
    _serve(settings, parts, tmp_path / "cold")
    assert _bytes(tmp_path / "warm") == _bytes(out)
    assert _bytes(tmp_path / "cold") == _bytes(out)
    release_caches()


def test_concatenated_parts_keep_the_contract_and_the_funnel(day, served):
    settings, parts = day
    out, results = served
    tables = {table: _table(out, table) for table in LANDING_TABLES}
    for table, schema in SCHEMAS.items():
        assert tables[table].schema.equals(schema), table

    candidates = pa.concat_tables(pq.read_table(p) for p in parts).to_pandas()
    log = tables["serving_log"].to_pandas()
    # every candidate is logged, in the candidates' order, with the model that scored it
    assert log[["request_id", "pin_id"]].equals(candidates[["request_id", "pin_id"]])
    assert (log["model_version"] == "visit_count").all() and (log["client"] == CLIENT).all()
    sent = log.groupby("request_id")["sent_to_full_ranker"].sum()
    assert (sent <= CONFIG.full_ranker_m).all() and sent.max() == CONFIG.full_ranker_m

    impressions = tables["impressions"].to_pandas()
    sent_pairs = set(
        map(tuple, log.loc[log["sent_to_full_ranker"], ["request_id", "pin_id"]].values)
    )
    shown_pairs = set(map(tuple, impressions[["request_id", "pin_id"]].values))
    assert shown_pairs <= sent_pairs  # only sent candidates are shown
    assert (impressions.groupby("request_id").size() <= CONFIG.shown_k).all()

    engagements = tables["engagements"].to_pandas()
    assert set(map(tuple, engagements[["request_id", "pin_id"]].values)) <= shown_pairs
    saved = engagements.loc[engagements["action"] == "save", ["user_id", "pin_id"]]
    saves = tables["saves"].to_pandas()
    assert set(map(tuple, saves[["user_id", "pin_id"]].values)) <= set(map(tuple, saved.values))

    summary = summarize_shards(results)
    assert summary.requests == SHARDS * REQUESTS_PER_SHARD
    assert summary.rows == {table: tables[table].num_rows for table in LANDING_TABLES}
    assert sum(summary.actions.values()) == len(engagements)


def test_shards_draw_apart_but_the_full_ranker_is_the_partitions(day):
    """Each shard has its own seed (its draws do not depend on other shards), while the full
    ranker's noise is the partition's: a request meets the same full ranker in any shard."""
    settings, parts = day
    tasks = plan_serve_shards(settings, DAY, CLIENT, "visit_count", parts, {})
    assert len({t.seed for t in tasks}) == SHARDS
    assert len({t.noise_seed for t in tasks}) == 1 and tasks[0].noise_seed not in {
        t.seed for t in tasks
    }


def test_a_staged_partition_appears_whole_and_marked_or_not_at_all(day, tmp_path):
    settings, parts = day
    landing = tmp_path / "landing"
    with staged_partition(landing, DAY, CLIENT, LANDING_TABLES) as staging:
        tasks = plan_serve_shards(settings, DAY, CLIENT, "visit_count", parts, staging)
        InProcessRunner().map(serve_shard, tasks)
        assert not partition_dir(landing, "serving_log", DAY, CLIENT).exists()
    for table in LANDING_TABLES:
        folder = partition_dir(landing, table, DAY, CLIENT)
        assert (folder / SUCCESS_MARKER).is_file(), table
        assert [p.name for p in data_files(folder)] == [p.name for p in parts], table
    before = _bytes(landing)

    with (
        pytest.raises(RuntimeError, match="worker lost"),
        staged_partition(landing, DAY, CLIENT, LANDING_TABLES) as staging,
    ):
        tasks = plan_serve_shards(settings, DAY, CLIENT, "visit_count", parts[:1], staging)
        InProcessRunner().map(serve_shard, tasks)
        raise RuntimeError("worker lost")
    assert _bytes(landing) == before
    assert not [p for p in landing.rglob(".*") if p.is_dir()]  # no staging folder left
    release_caches()
