"""Replay evaluation through the Dagster assets, on a landing folder of one's own data.

Materializes ``replay_model`` and ``replay_evaluation`` in process (``dagster.materialize``) with a
temporary ``PIXIE_HOME``, ``PIXIE_SOURCE=replay`` and ``PIXIE_LANDING=<--landing>``, and prints the
results; the last line is JSON::

    {"rankers": {"popularity": {...}, "plain_walk": {...}, "visit_count": {...},
                 "lightweight": {...}},
     "intervals": {ranker: {metric: [low, high]}},
     "paired": {"lightweight-visit_count": {metric: {"diff": d, "ci": [low, high]}}, ...},
     "windows": [{"test_window": ..., "rankers": {...}, ...}, ...],
     "test_users": n, "test_positives": n, "bootstrap": {...}, "seconds": s}

with hit@10, hit@100, hit@1000, recall@20 and ndcg@20 per ranker, pooled over the ``--windows``
consecutive test windows of a rolling-origin backtest (the last one ``--test-start`` ..
``--test-end``), each with its 95% bootstrap interval over test users. ``--from-world demo`` first
writes the synthetic world (seed 7, history ending before 2026-11-01) into ``--landing`` in the
contract's layout (saves split by day, engagements by day and client), which is how the figures
in the README were made::

    .venv/bin/python benchmarks/replay.py --landing /tmp/pixie_landing --from-world demo \\
        --test-start 2026-10-25 --test-end 2026-10-31
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from pixie_assets.world import generate_world
from pixie_assets.world.store import write_world_landing


def add_landing_arguments(parser: argparse.ArgumentParser) -> None:
    """The landing folder and test windows, as every replay benchmark takes them."""
    parser.add_argument("--landing", type=Path, required=True, help="the landing folder")
    parser.add_argument("--test-start", required=True, help="first day of the (last) test window")
    parser.add_argument("--test-end", required=True, help="last day of the (last) test window")
    parser.add_argument("--windows", type=int, default=1, help="consecutive test windows")
    parser.add_argument(
        "--window-days", type=int, default=0, help="days per window (default: the last one's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--from-world",
        choices=("tiny", "demo", "large"),
        help="first write the synthetic world of this scale into --landing (must not exist)",
    )


def prepare_landing(args: argparse.Namespace) -> Path:
    """The landing folder, written from the synthetic world first when ``--from-world`` asks."""
    landing = args.landing.resolve()
    if args.from_world:
        if landing.exists() and any(landing.iterdir()):
            sys.exit(f"{landing} is not empty; --from-world writes a new landing folder")
        started = time.perf_counter()
        world = generate_world(args.from_world, 7, date(2026, 11, 1))
        write_world_landing(world, landing)
        seconds = time.perf_counter() - started
        print(f"wrote the {args.from_world} world to {landing} in {seconds:.1f}s")
    return landing


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_landing_arguments(parser)
    parser.add_argument("--training-windows", type=int, default=3)
    parser.add_argument("--candidates-k", type=int, default=1000)
    args = parser.parse_args(argv)
    landing = prepare_landing(args)

    home = Path(tempfile.mkdtemp(prefix="pixie_replay_"))
    os.environ.update(PIXIE_HOME=str(home), PIXIE_SOURCE="replay", PIXIE_LANDING=str(landing))

    import dagster as dg

    from pixie_assets.defs.assets.replay import replay_evaluation, replay_model, replay_run_config
    from pixie_assets.defs.resources import PixieSettings

    started = time.perf_counter()
    with dg.DagsterInstance.ephemeral(tempdir=str(home / "dagster")) as instance:
        result = dg.materialize(
            [replay_model, replay_evaluation],
            run_config=replay_run_config(
                args.test_start,
                args.test_end,
                windows=args.windows,
                window_days=args.window_days,
                candidates_k=args.candidates_k,
                training_windows=args.training_windows,
                seed=args.seed,
            ),
            resources={
                "pixie": PixieSettings(home=str(home), source="replay", landing=str(landing))
            },
            instance=instance,
            raise_on_error=True,
        )
    seconds = time.perf_counter() - started
    metadata = result.asset_materializations_for_node("replay_evaluation")[0].metadata
    print(metadata["results_markdown"].value)
    evaluation = json.loads(Path(metadata["path"].value).read_text())
    print(f"replayed {metadata['test_windows'].value} in {seconds:.1f}s (PIXIE_HOME={home})")
    summary = {key: evaluation[key] for key in evaluation if key != "counts"}
    summary["seconds"] = round(seconds, 1)
    print(json.dumps(_rounded(summary)))
    return summary


def _rounded(value: object) -> object:
    """Figures to 4 decimals, for a JSON line a person can read."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    main()
