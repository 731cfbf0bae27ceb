"""The Dagster UI rendered by headless Chromium: the asset catalog lists the loop's assets.

Needs Debian's `chromium` (`apt-get install -y chromium`; `make test` installs it when missing).
Without it the test fails: a UI that was never rendered is not a passing UI test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets_tests.interfaces.dagster_ui import DagsterUI

LOOP_ASSETS = ("world", "pin_board_graph", *DAY_CLIENT_ASSETS)
# Virtual time Chromium gives the page's scripts (and their GraphQL requests) before dumping;
# a larger budget is tried only if the first render lacks names (a loaded machine).
VIRTUAL_TIME_BUDGETS_MS = (15_000, 45_000)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "headless Chromium is required by this UI test and was not found on PATH "
            "(looked for `chromium`, `chromium-browser`). Install it: `apt-get install -y "
            "chromium` (Debian); `make test` does so when it is missing.",
            pytrace=False,
        )
    return found


def _chromium_run(binary: str, profile: Path, budget_ms: int, *args: str) -> str:
    argv = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
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
        pytest.fail(f"chromium did not finish rendering {argv[-1]}", pytrace=False)
    assert browser.returncode == 0, f"{argv} exited {browser.returncode}:\n{stderr[-3000:]}"
    return stdout


class _AssetLinks(HTMLParser):
    """Text of every link to an asset page (``<a href="/assets/<name>">``)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("/assets/"):
            self._open = href.removeprefix("/assets/")
            self.links.setdefault(self._open, "")

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self.links[self._open] += data


def test_asset_catalog_page_lists_the_loop_assets(dagster_dev, tmp_path):
    binary = _chromium()
    ui: DagsterUI = dagster_dev
    # the first-visit community dialog would cover the screenshot
    ui.graphql("mutation { setNuxSeen }")
    url = f"{ui.base_url}/assets"
    for budget in VIRTUAL_TIME_BUDGETS_MS:
        dom = _chromium_run(binary, tmp_path / "profile", budget, "--dump-dom", url)
        parser = _AssetLinks()
        parser.feed(dom)
        missing = [a for a in LOOP_ASSETS if a not in parser.links]
        if not missing:
            break
    (tmp_path / "assets.html").write_text(dom)
    assert not missing, (
        f"{url}: no link to {missing} in the rendered DOM ({tmp_path / 'assets.html'})"
    )
    for asset in LOOP_ASSETS:
        assert asset in parser.links[asset], (asset, parser.links[asset])

    screenshot = tmp_path / "assets.png"
    _chromium_run(binary, tmp_path / "profile", budget, f"--screenshot={screenshot}", url)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of {url}: {screenshot}")
