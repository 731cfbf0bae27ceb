"""Pool slots that outlive their run, and steps that wait for a slot without burning a core.

Every writer of ``pixie.duckdb`` shares the ``duckdb`` pool, every writer of MLflow's store the
``mlflow`` pool (limit 1 each, dagster.yaml). Dagster frees a step's slot when the step ends; when
the run's process dies (``kill -9``, the OOM killer) nothing does, and every later writer waits
for ever. Dagster's run monitoring frees the slots of runs that *ended*
(``free_slots_after_run_end_seconds`` in dagster.yaml) but cannot tell that a run launched by
``dagster dev`` or the CLI died: such a run stays STARTED.

So a slot holder is **stale** when every process its run recorded (the ``pid`` of its engine
events: the run worker, the executor, step subprocesses) is gone from this machine. Stale holders
are released — the run marked failed if it never ended, its slots freed — by:

- ``release_stale_slots``, which the demo calls before every job and operators run by hand
  (``python -m pixie_assets.defs.concurrency``);
- every step that finds its pool full, before it waits and then at most every
  ``STALE_CHECK_SECONDS`` while it waits (``install``), so a run that dies holding a slot blocks
  the others for well under two minutes, whether they came from the UI, a schedule, the sensor,
  the CLI or the demo.

A run killed before it claimed any slot holds nothing and blocks nobody, but it would stay
STARTED in the UI for ever. ``PidCheckedRunLauncher`` (dagster.yaml's ``run_launcher``) is
Dagster's default launcher plus the health check its run monitoring asks launchers for: a STARTED
run whose recorded processes are all gone is reported FAILED, and the daemon (``make ui``) marks
it failed within ``poll_interval_seconds``.

The pid check only means something where runs and their storage share a machine: it is used with
SQLite instance storage (the project's default) and skipped otherwise, where Dagster's run
monitoring and the UI's *Free slots* remain.

``install`` also corrects the wait itself: Dagster 1.13's ``interval_to_next_pending_claim_check``
returns ``min([0, …])``, never positive, so a blocked executor polls in a tight loop at ~100% of a
core (dagster-io/dagster#20367 proposed the fix and was closed unmerged). The corrected interval
is the time to the next scheduled claim check; the patch is applied only when a probe shows the
installed Dagster still has the flaw.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import (
    InstanceConcurrencyContext,
)
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES

STALE_CHECK_SECONDS = 30.0
# A process that started more than this after its run recorded the pid is another process that
# reused the number.
_PID_REUSE_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class SlotHolder:
    """A run holding (or queued for) pool slots, and whether any of its processes lives."""

    run_id: str
    status: str
    pids: tuple[int, ...]
    alive: bool

    @property
    def stale(self) -> bool:
        return bool(self.pids) and not self.alive


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _linux_process_start(pid: int) -> tuple[float, str] | None:
    """(start time as a Unix time, state letter) of a process from /proc, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    boot = _boot_time()
    if boot is None:
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), fields[0]


def process_alive(pid: int, recorded_at: float) -> bool:
    """Whether the process that recorded ``pid`` at Unix time ``recorded_at`` still runs here:
    the pid exists, is not a zombie, and (on Linux) started before it was recorded."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    started = _linux_process_start(pid)
    if started is None:
        return True
    start_time, state = started
    return state != "Z" and start_time <= recorded_at + _PID_REUSE_SLACK_SECONDS


def _run_processes(instance: dg.DagsterInstance, run_id: str) -> list[tuple[int, float]]:
    """(pid, when recorded) of every process the run's engine events name."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None and str(pid.value).isdigit():
            found.append((int(pid.value), entry.timestamp))
    return found


def supports_pid_checks(instance: dg.DagsterInstance) -> bool:
    """Pids mean something only where runs share the machine with their storage (SQLite)."""
    return "sqlite" in type(instance.run_storage).__name__.lower()


def slot_holders(instance: dg.DagsterInstance) -> list[SlotHolder]:
    """Every run holding or queued for a pool slot, with its status and liveness."""
    holders = []
    for run_id in sorted(instance.event_log_storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        processes = _run_processes(instance, run_id)
        holders.append(
            SlotHolder(
                run_id=run_id,
                status=run.status.value if run else "DELETED",
                pids=tuple(sorted({pid for pid, _ in processes})),
                alive=any(process_alive(pid, at) for pid, at in processes),
            )
        )
    return holders


def release_stale_slots(
    instance: dg.DagsterInstance, log: Callable[[str], None] | None = None
) -> list[str]:
    """Free the slots of every run whose processes are all gone, marking it failed if it never
    ended. Returns the released run ids. A no-op where pid checks mean nothing."""
    if not supports_pid_checks(instance):
        return []
    released = []
    for holder in slot_holders(instance):
        if not holder.stale:
            continue
        run = instance.get_run_by_id(holder.run_id)
        message = (
            f"Run {holder.run_id} held pool slots but none of its processes "
            f"({', '.join(map(str, holder.pids))}) is alive; its slots were freed"
        )
        if run is not None and run.status not in FINISHED_STATUSES:
            instance.report_run_failed(run, message=f"{message} and the run marked failed.")
        instance.event_log_storage.free_concurrency_slots_for_run(holder.run_id)
        released.append(holder.run_id)
        if log:
            log(message)
    return released


class PidCheckedRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher (each run in a process of the code server) with a worker
    health check, so that the daemon's run monitoring marks failed the runs whose processes
    were killed, slot or no slot."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        """FAILED once every process the run recorded is gone; RUNNING before it recorded one,
        while one lives, and where pids mean nothing."""
        instance = self._instance
        if instance is None or not supports_pid_checks(instance):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        processes = _run_processes(instance, run.run_id)
        if processes and not any(process_alive(pid, at) for pid, at in processes):
            pids = ", ".join(str(pid) for pid in sorted({pid for pid, _ in processes}))
            return CheckRunHealthResult(
                WorkerStatus.FAILED, msg=f"none of the run's processes ({pids}) is alive"
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING)


def _claim_wait_is_flawed() -> bool:
    """Probe: with one claim check due in a minute, the flawed method answers 0 (no wait)."""
    probe = InstanceConcurrencyContext.__new__(InstanceConcurrencyContext)
    probe._pending_claims = {"probe"}
    probe._pending_timeouts = {"probe": time.time() + 60}
    return probe.interval_to_next_pending_claim_check() <= 0


def _interval_to_next_claim_check(self: InstanceConcurrencyContext) -> float:
    if not self._pending_claims or not self._pending_timeouts:
        return 0.0
    return max(0.0, min(self._pending_timeouts.values()) - time.time())


def _releasing_claim(original: Callable) -> Callable:
    def claim(self: InstanceConcurrencyContext, concurrency_key: str, step_key: str, *args, **kw):
        claimed = original(self, concurrency_key, step_key, *args, **kw)
        now = time.monotonic()
        if not claimed and now - getattr(self, "_pixie_stale_check_at", -1e9) >= (
            STALE_CHECK_SECONDS
        ):
            self._pixie_stale_check_at = now
            if release_stale_slots(self._instance):
                self._pending_timeouts.pop(step_key, None)  # ask again at once
        return claimed

    claim._pixie_releasing = True  # type: ignore[attr-defined]
    return claim


def install() -> None:
    """Patch Dagster's slot waiting in this process (idempotent): waits sleep, and a waiting
    step releases stale holders. Called where the definitions are loaded."""
    if _claim_wait_is_flawed():
        InstanceConcurrencyContext.interval_to_next_pending_claim_check = (  # type: ignore[method-assign]
            _interval_to_next_claim_check
        )
    if not getattr(InstanceConcurrencyContext.claim, "_pixie_releasing", False):
        InstanceConcurrencyContext.claim = _releasing_claim(  # type: ignore[method-assign]
            InstanceConcurrencyContext.claim
        )


def main(argv: list[str] | None = None) -> None:
    """List the runs holding pool slots; with --release, free those whose processes are gone."""
    parser = argparse.ArgumentParser(
        prog="python -m pixie_assets.defs.concurrency", description=main.__doc__
    )
    parser.add_argument("--release", action="store_true", help="free the slots of dead runs")
    args = parser.parse_args(argv)
    from pixie_assets.core.settings import ensure_dagster_home

    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home())
    with dg.DagsterInstance.get() as instance:
        holders = slot_holders(instance)
        if not holders:
            print("no run holds a pool slot")
        for holder in holders:
            state = "alive" if holder.alive else ("dead" if holder.pids else "unknown")
            pids = ",".join(map(str, holder.pids)) or "-"
            print(f"{holder.run_id}  {holder.status:<10} processes {pids} ({state})")
        if args.release:
            released = release_stale_slots(instance, log=print)
            print(f"released {len(released)} run(s)")


if __name__ == "__main__":
    main()
