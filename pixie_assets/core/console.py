"""The terminal of a long command (``make demo``): the project's own lines on it, everything the
libraries write in a log file.

Dagster, MLflow, numba and XGBoost write warnings and INFO lines from Python (``print``,
``warnings``, their loggers) and from C, some coloured with ANSI codes. Filtering them one
message at a time breaks with every release, so the split is made on the file descriptors:
inside ``library_output_to``, descriptors 1 and 2 (what ``sys.stdout``, ``sys.stderr`` and every
child process write to) point at the log file, and the project writes to a copy of the terminal
kept aside (``say``). Dagster still captures a step's output into its run's logs, as it swaps the
same descriptors during a step and mirrors them to whatever they pointed at: the log file.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# The terminal while ``library_output_to`` holds the descriptors; otherwise ``sys.stdout``.
_terminal: TextIO | None = None


def say(text: str = "") -> None:
    """Write one of the project's lines where the person running the command reads it."""
    print(text, file=_terminal or sys.stdout, flush=True)


class _PlainFormatter(logging.Formatter):
    """Timestamped records without colour codes: MLflow colours some warnings, which only
    clutter a file."""

    def format(self, record: logging.LogRecord) -> str:
        return ANSI_ESCAPE.sub("", super().format(record))


def _warnings_to_log() -> logging.Handler:
    """Route ``warnings`` through the ``py.warnings`` logger to ``sys.stderr`` (the log file, or
    a step's captured output), stamped with the time so they line up with the runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("py.warnings")
    logger.addHandler(handler)
    logger.propagate = False
    logging.captureWarnings(True)
    return handler


def _stop_warnings_to_log(handler: logging.Handler) -> None:
    logging.captureWarnings(False)
    logger = logging.getLogger("py.warnings")
    logger.removeHandler(handler)
    logger.propagate = True


@contextmanager
def library_output_to(log_path: Path) -> Iterator[Path]:
    """Send descriptors 1 and 2 to ``log_path`` (appended to, one header per use) and ``say``
    to the terminal until the block ends; then everything is put back, so a traceback or
    ``sys.exit`` message of a failure reaches the terminal."""
    global _terminal
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding=encoding, errors="replace")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(log_fd, f"==== {datetime.now().isoformat(timespec='seconds')} ====\n".encode())
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _terminal = terminal
    handler = _warnings_to_log()
    try:
        yield log_path
    finally:
        _stop_warnings_to_log(handler)
        sys.stdout.flush()
        sys.stderr.flush()
        _terminal = None
        terminal.close()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def clock(seconds: float) -> str:
    """A duration as a person reads it: 42s, 3m 05s, 1h 02m."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@dataclass
class Progress:
    """``[k/N]`` lines for a planned sequence of jobs, with the time elapsed and an estimate of
    the time left from the durations of the jobs of each kind so far."""

    plan: Sequence[str]  # the kind (job name) of every job, in order
    started: float = field(default_factory=time.perf_counter)
    durations: dict[str, list[float]] = field(default_factory=dict)
    done: int = 0

    def finished(self, kind: str, label: str, seconds: float, ok: bool = True) -> str:
        """Count one job as done and return its line."""
        self.done += 1
        self.durations.setdefault(kind, []).append(seconds)
        elapsed = clock(time.perf_counter() - self.started)
        line = f"[{self.done}/{len(self.plan)}] {label}: {'ok' if ok else 'FAILED'} in "
        line += f"{seconds:.1f}s · {elapsed} elapsed"
        return line + (f" · {self.time_left()}" if ok and self.done < len(self.plan) else "")

    def typical(self, kind: str) -> float | None:
        """What one more job of ``kind`` should take: the latest one's duration. The first of a
        kind pays one-off costs (numba compiling kernels, MLflow creating its tables), and
        later ones grow with the days behind them (training reads more days of examples), so
        the latest says more than a mean over all of them would."""
        samples = self.durations.get(kind, [])
        return samples[-1] if samples else None

    def time_left(self) -> str:
        """The sum of the typical durations of the jobs still to run, once each of their kinds
        has run at least once."""
        remaining = list(self.plan[self.done :])
        unknown = next((kind for kind in remaining if self.typical(kind) is None), None)
        if unknown is not None:
            return f"time left: estimated after the first {unknown}"
        return f"about {clock(sum(self.typical(kind) or 0.0 for kind in remaining))} left"
