"""``make demo``: run every stage that exists, end to end, through Dagster on the configured world.

Runs go through the real instance in ``$DAGSTER_HOME`` so they show up in the Dagster UI's run
history afterwards (``make ui``).
"""

from __future__ import annotations

import os
import sys
import time

import dagster as dg

from pixie_assets.settings import ensure_dagster_home, get_settings


# The run's full event log is in the Dagster UI; the terminal gets warnings and the summary.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run_job(instance: dg.DagsterInstance, defs: dg.Definitions, name: str, **kwargs):
    started = time.perf_counter()
    result = defs.get_job_def(name).execute_in_process(
        instance=instance, run_config=QUIET_CONSOLE, **kwargs
    )
    label = f"{name} {kwargs.get('partition_key', '')}".strip()
    print(
        f"  {label}: {'ok' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s"
    )
    if not result.success:
        sys.exit(f"demo: job {label} failed; see the run in the Dagster UI (make ui)")
    return result


def _metadata(result, asset: str) -> dict:
    materialization = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def main() -> None:
    settings = get_settings()
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home())
    from pixie_assets.definitions import defs

    print(
        f"Pixie demo: {settings.world_scale} world (seed {settings.world_seed}) in {settings.home}"
    )
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        world_result = _run_job(instance, defs, "world_job")
    print()
    print(_metadata(world_result, "world")["summary"])
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
