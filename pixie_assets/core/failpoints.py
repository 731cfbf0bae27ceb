"""Named crash points for fault-injection tests (the idea of TiKV's ``fail-rs`` and of Dagster's
own ``DebugCrashFlags``): a writer marks the moments where a crash would matter most, and a test
kills the process exactly there instead of racing a timer.

``PIXIE_FAILPOINT=<name>`` (comma-separated for several) makes ``failpoint(<name>)`` send SIGKILL
to its own process: no ``finally`` block, ``atexit`` hook or Dagster failure event runs, as when the
kernel's OOM killer or an operator's ``kill -9`` ends a run. Unset, a failpoint is one dictionary
lookup. Every name is listed in ``FAILPOINTS`` so a test can pick among them and a typo fails.
"""

from __future__ import annotations

import os
import signal

ENV = "PIXIE_FAILPOINT"

FAILPOINTS: dict[str, str] = {
    "ingest.before_commit": "ingestion: every table of the partition replaced, not yet committed",
    "ingest.after_commit": "ingestion: committed, the step not yet reported",
    "train.after_run_start": "training: MLflow run started (with its partition tags), nothing "
    "logged, earlier stale runs not yet ended",
    "train.after_register": "training: model version registered with all its tags, @challenger "
    "not yet moved, run still RUNNING",
    "evaluate.after_alias": "evaluation: @champion moved to the challenger, its review "
    "(promotion=promoted) not yet written",
    "evaluate.before_alias": "evaluation: decision logged in the evaluation run, registry "
    "untouched (@champion not moved, no review)",
}


def armed() -> frozenset[str]:
    """The failpoints this process will crash at."""
    names = frozenset(n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip())
    unknown = names - FAILPOINTS.keys()
    if unknown:
        raise ValueError(
            f"{ENV} names unknown failpoints {sorted(unknown)}; known: {sorted(FAILPOINTS)}"
        )
    return names


def failpoint(name: str) -> None:
    """Die here, at once and uncleanly, when ``name`` is armed."""
    if name not in FAILPOINTS:
        raise ValueError(f"unknown failpoint {name!r}; add it to FAILPOINTS")
    if ENV in os.environ and name in armed():
        os.kill(os.getpid(), signal.SIGKILL)
