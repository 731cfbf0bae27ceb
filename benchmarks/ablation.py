"""Ablation of Pixie's candidate generation on a landing folder: the defaults, each choice off.

For the test windows of a replay (``--test-start``/``--test-end``, ``--windows``,
``--window-days`` as in ``benchmarks/replay.py``), every candidate source of
``pixie_assets.replay.ablation_sources`` ranks the windows' positives by visit count: the
project's defaults, the defaults without pruning / with the fixed Pinterest thresholds / with a
plain recent-pins query / with 5 query pins / without early stopping / without the multi-hit
boost / with steps split equally / with 5× the steps, and the plain walk. Prints a Markdown
table (pooled metrics, and the paired 95% interval of each source's hit@100 minus the
defaults') and one JSON line::

    {"sources": {name: {metric: value}}, "versus_default": {name: {metric: [diff, low, high]}},
     "thresholds": {name: {...}}, "test_users": n, "test_positives": n, "seconds": s}

    .venv/bin/python benchmarks/ablation.py --landing /tmp/ml_landing \\
        --test-start 2018-03-27 --test-end 2018-09-24 --windows 8 --window-days 182
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from replay import add_landing_arguments, prepare_landing  # noqa: E402  (the sibling script)

from pixie_assets.core.settings import Settings
from pixie_assets.landing.sources import landing_inventory, read_table
from pixie_assets.replay import ReplayParams, ReplaySources, ReplayWindow, rolling_windows
from pixie_assets.replay.ablation import candidate_ablation
from pixie_assets.replay.candidates import ablation_sources


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_landing_arguments(parser)
    parser.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    args = parser.parse_args(argv)
    landing = prepare_landing(args)
    started = time.perf_counter()
    windows = rolling_windows(
        ReplayWindow.parse(args.test_start, args.test_end), args.windows, args.window_days or None
    )
    # replay settings only locate and validate the landing folder; nothing is written
    settings = Settings(home=Path(tempfile.gettempdir()), source="replay", landing=landing)
    inventory = landing_inventory(settings)
    sources = ReplaySources.load(
        lambda table, before: read_table(settings, table, before=before, inventory=inventory),
        until=windows[-1].stop,
    )
    params = ReplayParams(seed=args.seed)
    chosen = ablation_sources(params.config())
    if args.sources:
        wanted = args.sources.split(",")
        unknown = set(wanted) - {s.name for s in chosen}
        if unknown:
            sys.exit(f"unknown sources {sorted(unknown)}; known: {[s.name for s in chosen]}")
        chosen = [s for s in chosen if s.name in wanted]
    result = candidate_ablation(sources, windows, params, chosen, log=print)
    print(result.markdown())
    summary = {
        "sources": {
            name: {m: round(i.estimate, 4) for m, i in values.items()}
            for name, values in result.metrics.items()
        },
        "versus_default": {
            name: {
                m: [round(i.estimate, 4), round(i.low, 4), round(i.high, 4)] for m, i in v.items()
            }
            for name, v in result.versus_default.items()
        },
        "thresholds": result.thresholds,
        "test_users": result.test_users,
        "test_positives": result.test_positives,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
