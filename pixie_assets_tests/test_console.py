"""The console of a long command (issue 15 item 5), without running one: the project's lines
reach the terminal, everything written to descriptors 1 and 2 reaches the log file, and the
``[k/N]`` lines estimate the time left from the jobs of each kind so far."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pixie_assets.core import console
from pixie_assets.core.console import Progress, clock

# Everything a library may do to the terminal: print, a coloured warning, a logger, C-level
# writes to both descriptors, and a child process.
_SCRIPT = textwrap.dedent(
    """
    import logging, os, subprocess, sys, warnings
    from pathlib import Path
    from pixie_assets.core.console import library_output_to, say

    say("before")
    with library_output_to(Path(sys.argv[1])) as log:
        say("mine")
        print("library print")
        print("library stderr", file=sys.stderr)
        warnings.warn("\\x1b[33mcoloured warning\\x1b[0m")
        logging.getLogger("somelib").warning("library logger")
        os.write(1, b"c-level stdout\\n")
        os.write(2, b"c-level stderr\\n")
        subprocess.run(["echo", "child process"], check=True)
        say("done")
    say(f"after, log in {log.name}")
    """
)


def test_library_output_goes_to_the_log_and_the_project_lines_to_the_terminal(tmp_path: Path):
    log = tmp_path / "logs" / "demo.log"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(log)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["before", "mine", "done", "after, log in demo.log"]
    assert done.stderr == ""
    text = log.read_text()
    for line in ("library print", "library stderr", "coloured warning", "library logger"):
        assert line in text
    assert "c-level stdout" in text and "c-level stderr" in text and "child process" in text
    assert "\x1b" not in text  # the warning's colour codes are stripped


def test_estimates_wait_for_each_kind_and_follow_its_latest_job(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(console, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    plan = ["world_job", "graph_job", "client", "client", "client", "client"]
    progress = Progress(plan, started=now[0])
    now[0] += 2
    first = progress.finished("world_job", "world_job", 2.0)
    assert first == "[1/6] world_job: ok in 2.0s · 2s elapsed · time left: estimated after " + (
        "the first graph_job"
    )
    progress.finished("graph_job", "graph_job D", 3.0)
    now[0] += 3 + 30
    assert progress.finished("client", "client a", 30.0).endswith("· about 1m 30s left")
    now[0] += 10
    # The first client job compiled kernels: from the second on, it no longer counts.
    assert progress.finished("client", "client b", 10.0).endswith("· about 20s left")
    # Later days train on more: the latest job says what the next will take, not the mean.
    assert progress.finished("client", "client c", 14.0).endswith("· about 14s left")
    last = progress.finished("client", "client d", 10.0)
    assert last.startswith("[6/6] client d: ok in 10.0s") and "left" not in last


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (42, "42s"), (185, "3m 05s"), (3720, "1h 02m")]
)
def test_clock(seconds: float, text: str):
    assert clock(seconds) == text
