"""Landing mode: ingest each (day, client) partition once its writers have finished it, and again
whenever its files change.

A partition is ready when its serving_log and impressions folders, and its engagements folder if
there is one, hold the ``_SUCCESS`` marker a writer writes last (docs/architecture.md §3). The
cursor maps each partition key to a fingerprint of the partition's file set (names, sizes,
modification times), so late engagements or a rewritten file launch ingestion again and an
unchanged partition is never launched twice. A folder that addresses no partition (a malformed
name, an unknown client, a day before the start or in the future), a partition still being written
and a day Dagster has no partition for yet are skipped and named on the tick: one bad folder never
stops the others.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from pixie_assets.core.clients import CLIENTS
from pixie_assets.defs.jobs import ingest_job
from pixie_assets.defs.partitions import day_client_key, day_client_partitions
from pixie_assets.defs.resources import PixieSettings
from pixie_assets.landing import PartitionScan, SkipKind, partition_dir, scan_partitions

# Lines of one level logged per tick; the rest are counted, so a flood of bad folders cannot
# flood the tick log (the SkipReason still counts every one).
MAX_LOGGED_LINES = 50
DAY_NOT_OVER = "day not over"
NOT_A_PARTITION = "not a partition"
# Reasons that resolve themselves (a writer finishing, midnight UTC): info, not warnings.
_SETTLING = frozenset({SkipKind.IN_PROGRESS.value, DAY_NOT_OVER})


@dataclass(frozen=True)
class _Skip:
    """One line of the tick's report and the reason it is counted under."""

    label: str
    line: str


@dataclass
class _Tick:
    """What one evaluation decided: runs to launch, the next cursor, what it skipped."""

    requests: list[dg.RunRequest]
    cursor: dict[str, str]
    skips: list[_Skip]
    unchanged: int


def _read_cursor(context: dg.SensorEvaluationContext) -> dict[str, str]:
    """The fingerprint last launched per partition key; an unreadable or older-format cursor
    counts as empty (every ready partition is ingested once more, which is idempotent)."""
    try:
        seen = json.loads(context.cursor) if context.cursor else {}
    except json.JSONDecodeError:
        context.log.warning(f"landing sensor: unreadable cursor {context.cursor[:80]!r} dropped")
        return {}
    if not isinstance(seen, dict):
        return {}
    return {key: value for key, value in seen.items() if isinstance(value, str)}


def _not_a_partition(landing_dir: Path, day: str, client: str, today: date) -> _Skip:
    """Why Dagster has no partition for a ready folder: its day is today (daily partitions end
    with yesterday), or the code location's start day differs from the sensor's settings."""
    folder = partition_dir(landing_dir, "serving_log", day, client)
    if date.fromisoformat(day) == today:
        tomorrow = today + timedelta(days=1)
        return _Skip(
            DAY_NOT_OVER, f"{folder}: ready, launched once the day is over ({tomorrow} 00:00 UTC)"
        )
    return _Skip(
        NOT_A_PARTITION,
        f"{folder}: ready, but day × client partitions hold no {day}|{client} "
        "(does the code location's PIXIE_START_DAY match the resource's start_day?)",
    )


def _decide(scan: PartitionScan, seen: dict[str, str], today: date, landing_dir: Path) -> _Tick:
    """Launch each ready partition whose fingerprint differs from the cursor's. The next cursor
    holds the launched and unchanged fingerprints, keeps the old one of a partition that waits
    (being written, or not yet a Dagster partition), and forgets partitions gone from landing,
    so it stays as small as the landing folder."""
    tick = _Tick(requests=[], cursor={}, skips=[], unchanged=0)
    for ready in scan.ready:
        key = day_client_key(ready.day, ready.client)
        if not day_client_partitions.has_partition_key(key):
            tick.skips.append(_not_a_partition(landing_dir, ready.day, ready.client, today))
            if str(key) in seen:
                tick.cursor[str(key)] = seen[str(key)]
            continue
        tick.cursor[str(key)] = ready.fingerprint
        if seen.get(str(key)) == ready.fingerprint:
            tick.unchanged += 1
            continue
        tick.requests.append(dg.RunRequest(run_key=f"{key}@{ready.fingerprint}", partition_key=key))
    for day, client in scan.in_progress:
        key = str(day_client_key(day, client))
        if key in seen:
            tick.cursor[key] = seen[key]
    tick.skips += [_Skip(skipped.kind.value, str(skipped)) for skipped in scan.skipped]
    tick.skips.sort(key=lambda skip: skip.line)
    return tick


def _log(context: dg.SensorEvaluationContext, skips: list[_Skip]) -> None:
    """Name every skipped folder on the tick (bounded): warnings for folders that need a person,
    info for those that will settle by themselves."""
    for settling, log in ((False, context.log.warning), (True, context.log.info)):
        lines = [skip.line for skip in skips if (skip.label in _SETTLING) == settling]
        if not lines:
            continue
        shown = lines[:MAX_LOGGED_LINES]
        more = f"\n  … and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
        kind = "waiting" if settling else "skipped"
        log(f"landing sensor: {len(lines)} {kind}:\n  " + "\n  ".join(shown) + more)


def _summary(tick: _Tick) -> str:
    """The skip reason of a tick that launches nothing: what was skipped, commonest first."""
    counts = Counter(skip.label for skip in tick.skips)
    parts = [f"{n} {label}" for label, n in sorted(counts.items(), key=lambda c: (-c[1], c[0]))]
    text = f"no new or changed landing partitions ({tick.unchanged} unchanged)"
    return text + (f"; skipped {', '.join(parts)} (see the tick log)" if parts else "")


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=60,
    description="Landing mode: launches serving_log_table for each landing partition that is "
    "complete (_SUCCESS in serving_log, impressions and any engagements folder) and new or "
    "changed (late engagements, rewritten files). Skips and names folders it cannot address "
    "or that are still being written. Skips in world mode.",
)
def landing_files_sensor(context: dg.SensorEvaluationContext, pixie: PixieSettings):
    settings = pixie.resolved()
    if settings.source != "landing":
        return dg.SkipReason(f"PIXIE_SOURCE={settings.source}: nothing lands from outside")
    if not settings.landing_dir.is_dir():
        return dg.SkipReason(f"{settings.landing_dir}: no landing folder (set PIXIE_LANDING)")
    today = datetime.now(UTC).date()
    scan = scan_partitions(settings.landing_dir, tuple(CLIENTS), settings.start_day, today)
    tick = _decide(scan, _read_cursor(context), today, settings.landing_dir)
    _log(context, tick.skips)
    cursor = json.dumps(tick.cursor, sort_keys=True, separators=(",", ":"))
    if tick.requests:
        return dg.SensorResult(run_requests=tick.requests, cursor=cursor)
    return dg.SensorResult(skip_reason=_summary(tick), cursor=cursor)
