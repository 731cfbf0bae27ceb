"""#13 item 1: a run that dies holding a pool slot blocks nobody, and a blocked step sleeps.

Writers run as real processes against one SQLite Dagster instance; the holder is killed with
SIGKILL, as the OOM killer or an operator would."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pixie_assets.defs import concurrency
from pixie_assets_tests.operations.pool_jobs import HOLDING

pytestmark = pytest.mark.slow
DEADLINE_S = 120  # the bound: nobody blocked for more than 2 minutes


def _start(name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pixie_assets_tests.operations.pool_jobs", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _start_holding() -> subprocess.Popen:
    holder = _start("holder")
    for line in holder.stdout:  # blocks until the holder's step owns the slot
        if HOLDING in line:
            return holder
    raise AssertionError(f"holder exited ({holder.wait()}) before taking the slot")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_queued(instance: dg.DagsterInstance, process: subprocess.Popen) -> None:
    """Until a second run waits in the pool's queue (or the process ends, which fails)."""
    deadline = time.monotonic() + DEADLINE_S
    while len(instance.event_log_storage.get_concurrency_run_ids()) < 2:
        assert process.poll() is None, "the waiting run ended instead of waiting"
        assert time.monotonic() < deadline, "the second run never queued for the slot"
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # paces the polling; returning early fails above


def test_a_killed_holder_releases_its_slot_to_the_next_writer(pixie_home):
    holder = _start_holding()
    holder.send_signal(signal.SIGKILL)
    assert holder.wait() == -signal.SIGKILL
    with dg.DagsterInstance.get() as instance:
        (dead_run,) = instance.event_log_storage.get_concurrency_run_ids()
        assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.STARTED

        started = time.monotonic()
        waiter = subprocess.run(
            [sys.executable, "-m", "pixie_assets_tests.operations.pool_jobs", "waiter"],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )
        assert waiter.returncode == 0, waiter.stderr[-2000:]
        assert "waiter ran" in waiter.stdout
        assert time.monotonic() - started < DEADLINE_S
        assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_run_ids()


def test_a_step_blocked_by_a_live_holder_waits_without_spinning(pixie_home):
    holder = _start_holding()
    waiter = _start("waiter")
    try:
        with dg.DagsterInstance.get() as instance:
            _wait_until_queued(instance, waiter)
            # a live holder is never released, and the waiter sleeps between claim checks
            assert concurrency.release_stale_slots(instance) == []
            window = 4.0
            cpu_before, wall_before = _cpu_seconds(waiter.pid), time.monotonic()
            with pytest.raises(subprocess.TimeoutExpired):
                waiter.wait(timeout=window)  # still blocked: the holder keeps its slot
            cpu = _cpu_seconds(waiter.pid) - cpu_before
            wall = time.monotonic() - wall_before
            assert cpu < 0.25 * wall, f"blocked step used {cpu:.2f}s CPU in {wall:.1f}s"
        holder.stdin.close()  # the holder's step ends and frees the slot
        assert holder.wait(timeout=DEADLINE_S) == 0
        assert waiter.wait(timeout=DEADLINE_S) == 0
        assert "waiter ran" in waiter.stdout.read()
    finally:
        for process in (holder, waiter):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_installed_wait_interval_is_the_time_to_the_next_claim_check():
    concurrency.install()
    context = concurrency.InstanceConcurrencyContext.__new__(concurrency.InstanceConcurrencyContext)
    context._pending_claims = {"step"}
    context._pending_timeouts = {"step": time.time() + 10}
    assert 9 < context.interval_to_next_pending_claim_check() <= 10
    context._pending_timeouts = {"step": time.time() - 1}
    assert context.interval_to_next_pending_claim_check() == 0


def test_a_reused_pid_is_not_the_process_that_recorded_it():
    me = os.getpid()
    assert concurrency.process_alive(me, time.time())
    assert not concurrency.process_alive(me, recorded_at=0.0)  # we started long after 1970


def test_the_daemons_run_monitoring_fails_a_killed_run_through_the_projects_launcher(pixie_home):
    """What ``make ui``'s daemon does every ``poll_interval_seconds``: Dagster's own
    ``monitor_started_run`` asks the project's launcher about each STARTED run. A live run is
    left alone; once its process is killed, the run is marked failed, saying why."""
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    logger = logging.getLogger("run_monitoring_test")
    holder = _start_holding()
    try:
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_launcher, concurrency.PidCheckedRunLauncher)
            assert instance.run_monitoring_enabled
            (record,) = instance.get_run_records(
                dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
            )
            monitor_started_run(instance, None, record, logger)  # alive: nothing happens
            assert instance.get_run_by_id(record.dagster_run.run_id).status == (
                dg.DagsterRunStatus.STARTED
            )
            holder.send_signal(signal.SIGKILL)
            assert holder.wait() == -signal.SIGKILL
            monitor_started_run(instance, None, record, logger)
            run_id = record.dagster_run.run_id
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            assert "is alive" in failure[-1].message, failure[-1].message
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
