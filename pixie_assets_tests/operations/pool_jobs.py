"""Two writers of the ``duckdb`` pool for the slot tests, run as separate processes:
``holder`` says so on stdout and then keeps its slot until its stdin closes; ``waiter`` only
needs the slot. ``python -m pixie_assets_tests.operations.pool_jobs holder|waiter``."""

from __future__ import annotations

import sys

import dagster as dg

from pixie_assets.defs import concurrency

concurrency.install()  # as pixie_assets/definitions.py does in every process that loads it

HOLDING = "holding the duckdb slot"


@dg.asset(pool="duckdb")
def holder() -> None:
    print(HOLDING, flush=True)
    sys.stdin.read()  # until the test closes our stdin (or kills us)


@dg.asset(pool="duckdb")
def waiter() -> None:
    print("waiter ran", flush=True)


def main(name: str) -> None:
    asset = {"holder": holder, "waiter": waiter}[name]
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main(sys.argv[1])
