"""`make screenshots`: the pages a daily user opens, as PNGs, so anyone can see the UIs without
running them (README, *The UIs*).

Reads the deployment under ``$PIXIE_HOME`` (run `make demo` first). When `make ui` already serves
on ``DAGSTER_PORT`` and ``MLFLOW_PORT`` those UIs are used; otherwise `make ui` is started for the
duration and stopped after. Each page is rendered in headless Chromium until it shows what it is
about (the asset's name, the run's id, the model's name, …), then captured; a page that never does
fails the command, naming what was missing.

    python -m pixie_assets_tests.interfaces.screenshots --out docs/screenshots
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from pixie_assets.core.settings import PROJECT_ROOT
from pixie_assets.training.tracking import registered_model_name
from pixie_assets_tests.interfaces.chromium import screenshot
from pixie_assets_tests.interfaces.dagster_ui import LOCATION, start_ui
from pixie_assets_tests.interfaces.harness import GraphQL

CLIENT = "homefeed"
JOB = "daily_client_job"
ASSET = "model_evaluation"

_LAST_RUN = """
query($job: String!) {
  runsOrError(filter: {pipelineName: $job, statuses: [SUCCESS]}, limit: 1) {
    ... on Runs { results { runId tags { key value } } }
  }
}"""


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    expect: tuple[str, ...]
    caption: str


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


@contextlib.contextmanager
def running_uis(log_dir: Path) -> Iterator[tuple[str, str]]:
    """The Dagster and MLflow base URLs: `make ui`'s if it serves on the configured ports, else
    those of a `make ui` started here and stopped on exit."""
    dagster = f"http://127.0.0.1:{os.environ.get('DAGSTER_PORT', '3000')}"
    mlflow = f"http://127.0.0.1:{os.environ.get('MLFLOW_PORT', '5000')}"
    if _answers(f"{dagster}/server_info") and _answers(f"{mlflow}/health"):
        print(f"using the UIs on {dagster} and {mlflow}", flush=True)
        yield dagster, mlflow
        return
    print("starting make ui for the screenshots", flush=True)
    uis = start_ui(dict(os.environ), log_dir)
    try:
        yield uis.graphql.base_url, uis.mlflow_url
    finally:
        uis.server.stop()


def reviewed_version(mlflow: str, model: str) -> tuple[str, str]:
    """The version a reviewer opens first: ``@champion``, else ``@challenger`` (a registry whose
    first challenger lost), with the alias it was found by."""
    for alias in ("champion", "challenger"):
        response = requests.get(
            f"{mlflow}/api/2.0/mlflow/registered-models/alias",
            params={"name": model, "alias": alias},
            timeout=30,
        )
        if response.status_code == 200:
            return response.json()["model_version"]["version"], alias
    raise SystemExit(f"{model} has neither @champion nor @challenger in {mlflow}")


def pages(dagster: str, mlflow: str) -> list[Page]:
    graphql = GraphQL(dagster)
    graphql("mutation { setNuxSeen }")  # the first-visit dialog would cover every page
    runs = graphql(_LAST_RUN, job=JOB)["runsOrError"]["results"]
    if not runs:
        raise SystemExit(f"no successful {JOB} run in {dagster}: run `make demo` first")
    run_id = runs[0]["runId"]
    model = registered_model_name(CLIENT)
    version, alias = reviewed_version(mlflow, model)
    return [
        Page("asset", f"{dagster}/assets/{ASSET}", (ASSET,),
             f"`{ASSET}` in the asset catalog: its latest materialization and metadata"),
        Page("job", f"{dagster}/locations/{LOCATION}/jobs/{JOB}/runs", (JOB, run_id[:8]),
             f"`{JOB}`'s Runs tab: the demo's runs belong to the workspace's code location"),
        Page("run", f"{dagster}/runs/{run_id}", (run_id[:8],),
             "the newest successful day × client run: steps, their timing and logs"),
        Page("runs", f"{dagster}/runs", (JOB, run_id[:8]),
             "the run history: every run of the demo, by job and partition"),
        Page("registry", f"{mlflow}/#/models/{model}", (model, alias),
             f"`{model}` in MLflow's registry: versions, aliases, tags, description"),
        Page("version", f"{mlflow}/#/models/{model}/versions/{version}", (f"Version {version}",),
             f"the `@{alias}` version: its review (transposed comparison), links and tags"),
    ]  # fmt: skip


def write_index(out: Path, shot: list[Page]) -> None:
    lines = [
        "# Screenshots of the UIs",
        "",
        "Made by `make screenshots` (`pixie_assets_tests/interfaces/screenshots.py`) from the",
        "deployment under `$PIXIE_HOME` after `make demo`; headless Chromium, 1600×1000.",
        "",
    ]
    for page in shot:
        lines += [f"## {page.name}: {page.caption}", "", f"![{page.name}]({page.name}.png)", ""]
    (out / "README.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    home = Path(os.environ.get("PIXIE_HOME", PROJECT_ROOT / "data"))
    if not (home / "mlflow.db").is_file():
        sys.exit(f"no deployment under PIXIE_HOME={home} (no mlflow.db): run `make demo` first")
    with running_uis(home / "logs") as (dagster, mlflow):
        shot = pages(dagster, mlflow)
        for page in shot:
            path = screenshot(page.url, args.out / f"{page.name}.png", page.expect)
            print(f"{page.name}: {page.url} -> {path}", flush=True)
    write_index(args.out, shot)


if __name__ == "__main__":
    main()
