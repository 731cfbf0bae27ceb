"""Headless Chromium (Debian's `chromium`): a page rendered as its DOM or as a PNG.

Both UIs are JavaScript applications that fill the page from their APIs after it loads, so a page
is given virtual time (``--virtual-time-budget``) for its scripts and requests before it is read;
a larger budget is tried only when the first render lacks what the caller expects (a loaded
machine). The flags are those that work on a closed network: without the background-networking
ones Chromium keeps trying hosts it cannot reach.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

# Virtual time given to a page's scripts before it is read, tried in order.
VIRTUAL_TIME_BUDGETS_MS = (15_000, 45_000)
WINDOW = (1600, 1000)


class ChromiumError(RuntimeError):
    pass


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise ChromiumError(
            "headless Chromium is required and was not found on PATH (looked for `chromium`, "
            "`chromium-browser`). Install it: `apt-get install -y chromium` (Debian); "
            "`make test` and `make screenshots` do so when it is missing."
        )
    return found


def run_chromium(profile: Path, budget_ms: int, *args: str) -> str:
    """One headless Chromium invocation; its stdout (the DOM with ``--dump-dom``)."""
    argv = [
        find_chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--virtual-time-budget={budget_ms}",
        *args,
    ]
    # its own process group, so a hung browser goes with all of its helper processes
    browser = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = browser.communicate(timeout=60 + budget_ms / 1000)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        raise ChromiumError(f"chromium did not finish rendering {argv[-1]}") from None
    if browser.returncode != 0:
        raise ChromiumError(f"{argv} exited {browser.returncode}:\n{stderr[-3000:]}")
    return stdout


def render_dom(url: str, expect: Sequence[str], profile: Path) -> tuple[str, int]:
    """The page's DOM once every string of ``expect`` is in it, and the budget that took;
    raises with the missing strings when even the largest budget does not get there."""
    for budget in VIRTUAL_TIME_BUDGETS_MS:
        dom = run_chromium(profile, budget, "--dump-dom", url)
        missing = [text for text in expect if text not in dom]
        if not missing:
            return dom, budget
    raise ChromiumError(f"{url}: {missing} not in the page rendered with {budget} ms")


def screenshot(url: str, out: Path, expect: Sequence[str] = ()) -> Path:
    """A PNG of ``url`` at the window size, taken once the page shows ``expect``."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as scratch:
        profile = Path(scratch)
        _, budget = render_dom(url, expect, profile)
        out.parent.mkdir(parents=True, exist_ok=True)
        run_chromium(profile, budget, f"--screenshot={out}", url)
    if not out.is_file():
        raise ChromiumError(f"chromium wrote no screenshot of {url} to {out}")
    return out
