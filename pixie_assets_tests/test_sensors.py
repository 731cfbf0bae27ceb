"""The landing sensor, evaluated as Dagster evaluates a tick (run requests resolved against the
project's definitions, so a request for a partition Dagster does not have would fail the test as
it fails a tick): one request per complete partition that is new or changed, none twice; every
folder it cannot address or that is still being written skipped and named, never stopping the
rest (issue #13 items 2 and 3).

The sensor reads names, sizes, modification times and ``_SUCCESS`` markers only, so most folders
here hold a four-byte stand-in for a Parquet file; ingestion of real files is tested in
``ingest/test_landing_sensor.py``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pixie_assets.definitions import defs
from pixie_assets.defs.jobs import ingest_job
from pixie_assets.defs.partitions import day_client_key
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.defs.sensors import landing_files_sensor
from pixie_assets.landing import SUCCESS_MARKER

DAY = "2026-11-01"  # the first day of the partitions (PIXIE_START_DAY's default)


class _Lines(logging.Handler):
    """The messages a tick logged, by level name."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: dict[str, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.setdefault(record.levelname, []).append(record.getMessage())

    def text(self, level: str) -> str:
        return "\n".join(self.messages.get(level, []))


@pytest.fixture(scope="module")
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def settings(tmp_path: Path, landing: Path) -> PixieSettings:
    return PixieSettings(home=str(tmp_path), source="landing", landing=str(landing), start_day=DAY)


@pytest.fixture
def tick(instance, settings):
    """``tick(cursor)``: evaluate the sensor once as the daemon would; returns the tick's data
    (run requests, cursor, skip message) and what it logged."""

    def evaluate(cursor: str | None = None, pixie: PixieSettings = settings):
        lines = _Lines()
        with dg.build_sensor_context(
            cursor=cursor, resources={"pixie": pixie}, instance=instance, definitions=defs
        ) as context:
            context.log.addHandler(lines)
            data = landing_files_sensor.evaluate_tick(context)
        return data, lines

    return evaluate


def _folder(
    landing: Path,
    table: str,
    day: str,
    client: str,
    complete: bool = True,
    name: str = "part-0.parquet",
    mtime: int = 1_000,
) -> Path:
    """One stand-in data file (modification time set, not waited for), then the marker."""
    folder = landing / table / f"day={day}" / f"client={client}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"PAR1")
    os.utime(path, (mtime, mtime))
    if complete:
        (folder / SUCCESS_MARKER).write_bytes(b"")
    return folder


def _partition(landing: Path, day: str, client: str, **options) -> None:
    for table in ("serving_log", "impressions"):
        _folder(landing, table, day, client, **options)


def _requested(data) -> list[tuple[str, str]]:
    return [
        (request.partition_key.split("|")[1], request.partition_key.split("|")[0])
        for request in data.run_requests
    ]


def test_a_partition_dagster_lacks_fails_a_naive_tick(instance):
    """The failure the sensor guards against: Dagster refuses a whole tick that requests one
    partition it does not define (here an unknown client), so nothing else is launched."""

    @dg.sensor(job=ingest_job)
    def naive(_context):
        return [dg.RunRequest(partition_key=day_client_key(DAY, "web"))]

    with (
        dg.build_sensor_context(instance=instance, definitions=defs) as context,
        pytest.raises(dg.DagsterUnknownPartitionError, match="web"),
    ):
        naive.evaluate_tick(context)


def test_bad_folders_are_skipped_and_named_and_the_good_partition_is_requested(landing, tick):
    today = datetime.now(UTC).date()
    future = (today + timedelta(days=2)).isoformat()
    _partition(landing, DAY, "homefeed")  # the good one
    _partition(landing, DAY, "web")  # unknown client
    _partition(landing, "2026-10-15", "homefeed")  # before the start day
    _partition(landing, future, "homefeed")  # a clock or naming error
    (landing / "serving_log" / "2026-11-02").mkdir(parents=True)  # not day=…
    (landing / "serving_log" / "day=2026-02-30").mkdir()  # no such date
    (landing / "impressions" / f"day={DAY}" / "homefeed").mkdir(parents=True)  # not client=…
    (landing / "serving_log" / "notes.txt").write_text("hi")
    _folder(landing, "serving_log", "2026-11-02", "related_pins")
    _folder(landing, "impressions", "2026-11-02", "related_pins", complete=False)  # being written
    _folder(landing, "serving_log", "2026-11-03", "homefeed")  # impressions not written yet
    _partition(landing, today.isoformat(), "notifications")  # complete, but the day is not over

    data, lines = tick()

    assert _requested(data) == [(DAY, "homefeed")]
    warnings, infos = lines.text("WARNING"), lines.text("INFO")
    expected_warnings = {
        landing / "serving_log" / f"day={DAY}" / "client=web": "client 'web' is not configured",
        landing / "impressions" / f"day={DAY}" / "client=web": "client 'web' is not configured",
        landing / "serving_log" / "day=2026-10-15": "day 2026-10-15 is before the start day",
        landing / "serving_log" / f"day={future}": f"day {future} is after today ({today}, UTC)",
        landing / "serving_log" / "2026-11-02": "not a day=YYYY-MM-DD folder",
        landing / "serving_log" / "day=2026-02-30": "not a day=YYYY-MM-DD folder",
        landing / "serving_log" / "notes.txt": "not a day=YYYY-MM-DD folder",
        landing / "impressions" / f"day={DAY}" / "homefeed": "not a client=<c> folder",
    }
    for folder, reason in expected_warnings.items():
        assert f"{folder}: {reason}" in warnings, f"{folder} not named:\n{warnings}"
    day_not_over = "ready, launched once the day is over"
    expected_infos = {
        landing / "impressions" / "day=2026-11-02" / "client=related_pins": "no _SUCCESS marker",
        landing / "impressions" / "day=2026-11-03" / "client=homefeed": "not written yet",
        landing / "serving_log" / f"day={today}" / "client=notifications": day_not_over,
    }
    for folder, reason in expected_infos.items():
        assert f"{folder}: {reason}" in infos, f"{folder} not named:\n{infos}"

    data, _ = tick(data.cursor)  # nothing new: the skip reason counts what was skipped
    assert not data.run_requests
    assert data.skip_message == (
        "no new or changed landing partitions (1 unchanged); skipped 4 malformed name, "
        "2 before the start day, 2 being written, 2 in the future, 2 unknown client, "
        "1 day not over (see the tick log)"
    )


def test_a_day_dagster_has_no_partition_for_is_skipped_not_requested(landing, tick, tmp_path):
    """The resource may start earlier than the code location's partitions: checked per key."""
    earlier = PixieSettings(
        home=str(tmp_path), source="landing", landing=str(landing), start_day="2026-10-01"
    )
    _partition(landing, "2026-10-15", "homefeed")
    _partition(landing, DAY, "homefeed")
    data, lines = tick(pixie=earlier)
    assert _requested(data) == [(DAY, "homefeed")]
    assert "day × client partitions hold no 2026-10-15|homefeed" in lines.text("WARNING")


WRITER = textwrap.dedent(
    """
    import pathlib, sys
    folder, data = pathlib.Path(sys.argv[1]), b"PAR1" + bytes(4_000) + b"PAR1"
    folder.mkdir(parents=True)
    with open(folder / "part-0.parquet", "wb") as out:
        out.write(data[:100])
        out.flush()
        print("half", flush=True)
        sys.stdin.readline()  # the test says when to go on
        out.write(data[100:])
    (folder / "_SUCCESS").write_bytes(b"")
    print("done", flush=True)
    """
)


def test_a_partition_is_requested_only_once_its_writer_has_marked_it_complete(landing, tick):
    """A writer process stops half way through its impressions file: the partition is skipped
    as being written; once the writer finishes (marker last) the next tick requests it."""
    _folder(landing, "serving_log", DAY, "homefeed")
    folder = landing / "impressions" / f"day={DAY}" / "client=homefeed"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "half"
        data, lines = tick()
        assert not data.run_requests
        assert f"{folder}: no _SUCCESS marker: its writer has not finished" in lines.text("INFO")
        assert "1 being written" in data.skip_message

        writer.stdin.write("go on\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "done"
        assert writer.wait() == 0
    finally:
        writer.kill()
        writer.wait()
    data, _ = tick(data.cursor)
    assert _requested(data) == [(DAY, "homefeed")]


def test_late_engagements_and_rewritten_files_are_requested_again(landing, tick):
    _partition(landing, DAY, "homefeed")
    first, _ = tick()
    assert _requested(first) == [(DAY, "homefeed")]
    unchanged, _ = tick(first.cursor)
    assert not unchanged.run_requests and "(1 unchanged)" in unchanged.skip_message

    # late engagements: while their writer is at work nothing is launched, and the cursor
    # keeps the partition's last launched fingerprint
    engagements = _folder(landing, "engagements", DAY, "homefeed", complete=False, mtime=2_000)
    waiting, lines = tick(first.cursor)
    assert not waiting.run_requests and waiting.cursor == first.cursor
    assert f"{engagements}: no _SUCCESS marker" in lines.text("INFO")
    (engagements / SUCCESS_MARKER).write_bytes(b"")
    late, _ = tick(waiting.cursor)
    assert _requested(late) == [(DAY, "homefeed")]
    assert late.run_requests[0].run_key != first.run_requests[0].run_key
    assert not tick(late.cursor)[0].run_requests

    # a file rewritten in place, same name and size, only its modification time differs
    os.utime(engagements / "part-0.parquet", (3_000, 3_000))
    rewritten, _ = tick(late.cursor)
    assert _requested(rewritten) == [(DAY, "homefeed")]


def test_the_cursor_holds_one_short_entry_per_partition_present(landing, tick):
    _partition(landing, DAY, "homefeed")
    _partition(landing, DAY, "related_pins")
    data, _ = tick('{"2026-11-01|homefeed": 1000.0}')  # an older cursor: launched once more
    assert _requested(data) == [(DAY, "homefeed"), (DAY, "related_pins")]
    fingerprints = {r.partition_key: r.run_key.split("@")[1] for r in data.run_requests}
    assert json.loads(data.cursor) == fingerprints
    assert all(len(fingerprint) == 16 for fingerprint in fingerprints.values())

    for table in ("serving_log", "impressions"):  # removed from landing: forgotten
        shutil.rmtree(landing / table / f"day={DAY}" / "client=related_pins")
    again, _ = tick(data.cursor)
    assert not again.run_requests
    assert json.loads(again.cursor) == {"homefeed|2026-11-01": fingerprints["homefeed|2026-11-01"]}
    assert tick(again.cursor)[0].cursor == again.cursor  # deterministic


def test_world_mode_and_a_missing_landing_folder_skip(tick, tmp_path, landing):
    data, _ = tick(pixie=PixieSettings(home=str(tmp_path)))
    assert not data.run_requests and "world" in data.skip_message
    data, _ = tick()
    assert data.skip_message == f"{landing}: no landing folder (set PIXIE_LANDING)"
