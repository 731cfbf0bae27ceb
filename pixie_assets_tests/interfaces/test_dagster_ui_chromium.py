"""The Dagster UI rendered by headless Chromium: the asset catalog lists the loop's assets.

Needs Debian's `chromium` (`apt-get install -y chromium`; `make test` installs it when missing).
Without it the test fails: a UI that was never rendered is not a passing UI test.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from pixie_assets.defs.jobs import DAY_CLIENT_ASSETS
from pixie_assets_tests.interfaces.chromium import ChromiumError, render_dom
from pixie_assets_tests.interfaces.dagster_ui import DagsterUI

LOOP_ASSETS = ("world", "pin_board_graph", *DAY_CLIENT_ASSETS)


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
    ui: DagsterUI = dagster_dev
    # the first-visit community dialog would cover the page
    ui.graphql("mutation { setNuxSeen }")
    url = f"{ui.base_url}/assets"
    try:
        dom, _ = render_dom(url, [f'href="/assets/{a}"' for a in LOOP_ASSETS], tmp_path)
    except ChromiumError as error:
        pytest.fail(str(error), pytrace=False)
    parser = _AssetLinks()
    parser.feed(dom)
    for asset in LOOP_ASSETS:
        assert asset in parser.links[asset], (asset, parser.links[asset])
