"""#13 "done when": each writer asset — ingestion, training, evaluation — is killed with SIGKILL
at its failpoints and at a random moment, and the next run of the same partition succeeds, no pool
slot stays held, DuckDB holds the old or the new partition exactly, and the registry passes
``registry_consistency``.

Killed runs are child processes forked from a server that imported the project once
(``multiprocessing``'s forkserver), so a kill costs the run, not an interpreter start. They share
one SQLite Dagster instance with the test, as runs of ``dagster dev`` and the CLI share one, so
their pool slots are real. Tiny world, homefeed, promotion margin lowered so evaluations promote
(these tests are about the mechanism). Random moments come from ``random.Random(CHAOS_SEED)``;
the seed is in every failure message.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import random
import signal
import time
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pixie_assets.core import clients
from pixie_assets.core.settings import ensure_dagster_home
from pixie_assets.core.warehouse import reader
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing import partition_dir
from pixie_assets.training.registry import registry_consistency
from pixie_assets_tests.loop import DAY_CLIENT_STAGES, run

pytestmark = pytest.mark.slow

CHAOS_SEED = int(os.environ.get("PIXIE_CHAOS_SEED", "0"))
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
CLIENT = "homefeed"
SERVING_TABLES = ("serving_log", "impressions", "engagements")
RANDOM = "random moment"


def _lenient_homefeed() -> None:
    """Promote on any comparable result: the kill points of a promotion must be reached."""
    lenient = dataclasses.replace(clients.CLIENTS[CLIENT], promotion_margin=-0.5)
    clients.CLIENTS[CLIENT] = lenient


def _child_run(env: dict[str, str], asset: str, partition_key: str) -> None:
    """A run of one asset in a forked child, with the parent's settings and failpoint."""
    os.environ.update(env)
    _lenient_homefeed()
    settings = PixieSettings(
        home=env["PIXIE_HOME"], world_scale="tiny", world_seed=7, start_day=DAYS[0]
    )
    with dg.DagsterInstance.get() as instance:
        run(settings, [asset], partition_key, instance)


@pytest.fixture(scope="module")
def chaos(tmp_path_factory) -> Iterator[dict]:
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("pixie_chaos")
    env = {
        "PIXIE_HOME": str(home),
        "PIXIE_WORLD_SCALE": "tiny",
        "PIXIE_WORLD_SEED": "7",
        "PIXIE_START_DAY": DAYS[0],
        "DAGSTER_HOME": str(home / "dagster_home"),
    }
    for key, value in env.items():
        patch.setenv(key, value)
    patch.delenv("PIXIE_FAILPOINT", raising=False)
    ensure_dagster_home()
    patch.setitem(clients.CLIENTS, CLIENT, clients.CLIENTS[CLIENT])
    _lenient_homefeed()
    settings = PixieSettings(home=str(home), world_scale="tiny", world_seed=7, start_day=DAYS[0])
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(["pixie_assets.definitions", __name__])
    with dg.DagsterInstance.get() as instance:
        run(settings, ["world"], instance=instance)
        for day in DAYS[:2]:
            run(settings, ["pin_board_graph"], day, instance)
            run(settings, DAY_CLIENT_STAGES, day_client_key(day, CLIENT), instance)
        run(settings, ["pin_board_graph"], DAYS[2], instance)
        run(settings, DAY_CLIENT_STAGES[:3], day_client_key(DAYS[2], CLIENT), instance)
        yield {
            "settings": settings,
            "env": env,
            "instance": instance,
            "forks": forks,
            "rng": random.Random(CHAOS_SEED),
            "clean_seconds": {},
        }
    patch.undo()


def _partition_state(settings: PixieSettings, day: str) -> dict[str, tuple[int, int]]:
    """Per serving table, (rows, order-free content hash) of the DuckDB partition."""
    state = {}
    with reader(settings.resolved().duckdb_path) as con:
        for table in SERVING_TABLES:
            frame: pd.DataFrame = con.execute(
                f"SELECT * EXCLUDE (day) FROM {table} WHERE day = $day AND client = $client",
                {"day": day, "client": CLIENT},
            ).df()
            hashed = int(pd.util.hash_pandas_object(frame, index=False).sum()) if len(frame) else 0
            state[table] = (len(frame), hashed)
    return state


def _kill_run(chaos: dict, asset: str, day: str, failpoint: str) -> str:
    """Run ``asset`` in a child until it dies at ``failpoint`` (or at a random moment within
    the duration of the asset's last clean run); returns how it ended."""
    env = dict(chaos["env"])
    if failpoint != RANDOM:
        env["PIXIE_FAILPOINT"] = failpoint
    child = chaos["forks"].Process(
        target=_child_run, args=(env, asset, day_client_key(day, CLIENT))
    )
    if failpoint == RANDOM and asset not in chaos["clean_seconds"]:
        _rerun(chaos, asset, day)  # how long a clean run takes: the window of the random kill
    child.start()
    if failpoint == RANDOM:
        moment = chaos["rng"].uniform(0.0, chaos["clean_seconds"][asset])
        child.join(timeout=moment)  # the random moment of the kill, not a synchronization
        if child.is_alive():
            os.kill(child.pid, signal.SIGKILL)
    child.join()
    ended = {-signal.SIGKILL: "killed", 0: "finished"}.get(child.exitcode, child.exitcode)
    if failpoint != RANDOM:
        assert ended == "killed", f"{asset} never reached failpoint {failpoint}"
    return str(ended)


def _rerun(chaos: dict, asset: str, day: str) -> None:
    """The next run of the partition, in this process; it must succeed."""
    started = time.perf_counter()
    run(chaos["settings"], [asset], day_client_key(day, CLIENT), chaos["instance"])
    chaos["clean_seconds"][asset] = time.perf_counter() - started


def _assert_recovered(chaos: dict, context: str) -> None:
    assert not chaos["instance"].event_log_storage.get_concurrency_run_ids(), (
        f"a pool slot is still held after {context}"
    )
    consistency = registry_consistency(chaos["settings"].resolved(), CLIENT)
    assert consistency["consistent"], f"{context}: {consistency['problems']}"


def _rewrite_engagements(settings: PixieSettings, day: str, keep: float) -> None:
    """A service rewrites the day's engagements (keeping a share of them): the next ingestion
    has something new to load, so old and new partitions differ."""
    folder = partition_dir(settings.resolved().landing_dir, "engagements", day, CLIENT)
    (path,) = sorted(folder.glob("*.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.slice(0, int(table.num_rows * keep)), path)


@pytest.mark.parametrize(
    "failpoint", ["ingest.before_commit", "ingest.after_commit", RANDOM], ids=str
)
def test_killed_ingestion_leaves_the_old_or_the_new_partition(chaos, failpoint):
    settings, day = chaos["settings"], DAYS[2]
    old = _partition_state(settings, day)
    _rewrite_engagements(settings, day, keep=0.9)
    ended = _kill_run(chaos, "serving_log_table", day, failpoint)
    after_kill = _partition_state(settings, day)
    _rerun(chaos, "serving_log_table", day)
    new = _partition_state(settings, day)
    context = f"ingestion {ended} at {failpoint} (seed {CHAOS_SEED})"
    assert new != old, context
    assert after_kill in (old, new), context
    if failpoint == "ingest.before_commit":
        assert after_kill == old, context
    if failpoint == "ingest.after_commit":
        assert after_kill == new, context
    _assert_recovered(chaos, context)


@pytest.mark.parametrize(
    "failpoint", ["train.after_run_start", "train.after_register", RANDOM], ids=str
)
def test_killed_training_is_repaired_by_the_next_run(chaos, failpoint):
    ended = _kill_run(chaos, "lightweight_model", DAYS[1], failpoint)
    _rerun(chaos, "lightweight_model", DAYS[1])
    _assert_recovered(chaos, f"training {ended} at {failpoint} (seed {CHAOS_SEED})")


@pytest.mark.parametrize(
    "failpoint", ["evaluate.before_alias", "evaluate.after_alias", RANDOM], ids=str
)
def test_killed_evaluation_is_completed_by_the_next_run(chaos, failpoint):
    # a new challenger trained through day 2, which day 3's evaluation judges and promotes
    _rerun(chaos, "lightweight_model", DAYS[1])
    challenger = registry_consistency(chaos["settings"].resolved(), CLIENT)["challenger"]
    ended = _kill_run(chaos, "model_evaluation", DAYS[2], failpoint)
    _rerun(chaos, "model_evaluation", DAYS[2])
    context = f"evaluation {ended} at {failpoint} (seed {CHAOS_SEED})"
    _assert_recovered(chaos, context)
    champion = registry_consistency(chaos["settings"].resolved(), CLIENT)["champion"]
    assert champion == challenger, context
