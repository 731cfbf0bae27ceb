"""Replay evaluation through the Dagster assets, on a landing folder of one's own data.

Materializes ``replay_model`` and ``replay_evaluation`` in process (``dagster.materialize``) with a
temporary ``PIXIE_HOME``, ``PIXIE_SOURCE=replay`` and ``PIXIE_LANDING=<--landing>``, and prints the
results; the last line is JSON::

    {"rankers": {"popularity": {...}, "visit_count": {...}, "lightweight": {...}},
     "test_users": n, "test_positives": n}

with hit@10, hit@100, hit@1000, recall@20 and ndcg@20 per ranker. ``--from-world demo`` first
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

import pyarrow.compute as pc

from pixie_assets.landing_contract import write_landing_table


def write_world_landing(landing: Path, scale: str, seed: int, start_day: date) -> None:
    """The synthetic world as a landing folder."""
    from pixie_assets.world import generate_world

    world = generate_world(scale, seed, start_day)
    for name in ("users", "pins", "boards", "saves"):
        write_landing_table(landing, name, world.tables[name])
    engagements = world.tables["engagements"]
    for client in sorted(set(engagements["client"].to_pylist())):
        rows = engagements.filter(pc.equal(engagements["client"], client))
        write_landing_table(landing, "engagements", rows, client=client)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", type=Path, required=True, help="the landing folder")
    parser.add_argument("--test-start", required=True, help="first day of the test window")
    parser.add_argument("--test-end", required=True, help="last day of the test window")
    parser.add_argument("--candidates-k", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--from-world",
        choices=("tiny", "demo", "large"),
        help="first write the synthetic world of this scale into --landing (must not exist)",
    )
    args = parser.parse_args(argv)

    landing = args.landing.resolve()
    if args.from_world:
        if landing.exists() and any(landing.iterdir()):
            sys.exit(f"{landing} is not empty; --from-world writes a new landing folder")
        started = time.perf_counter()
        write_world_landing(landing, args.from_world, 7, date(2026, 11, 1))
        seconds = time.perf_counter() - started
        print(f"wrote the {args.from_world} world to {landing} in {seconds:.1f}s")

    home = Path(tempfile.mkdtemp(prefix="pixie_replay_"))
    os.environ.update(PIXIE_HOME=str(home), PIXIE_SOURCE="replay", PIXIE_LANDING=str(landing))

    import dagster as dg

    from pixie_assets.assets.replay import replay_evaluation, replay_model, replay_run_config
    from pixie_assets.resources import PixieSettings

    started = time.perf_counter()
    result = dg.materialize(
        [replay_model, replay_evaluation],
        run_config=replay_run_config(
            args.test_start, args.test_end, candidates_k=args.candidates_k, seed=args.seed
        ),
        resources={"pixie": PixieSettings(home=str(home), source="replay")},
        raise_on_error=True,
    )
    seconds = time.perf_counter() - started
    for asset in ("replay_model", "replay_evaluation"):
        metadata = result.asset_materializations_for_node(asset)[0].metadata
        if asset == "replay_evaluation":
            print(metadata["results"].value)
        path = metadata["path"].value
        print(f"{asset}: {path}")
    evaluation = json.loads(
        Path(
            result.asset_materializations_for_node("replay_evaluation")[0].metadata["path"].value
        ).read_text()
    )
    print(f"replayed {evaluation['test_window']} in {seconds:.1f}s (PIXIE_HOME={home})")
    summary = {
        "rankers": {
            ranker: {k: None if v is None else round(v, 4) for k, v in metrics.items()}
            for ranker, metrics in evaluation["rankers"].items()
        },
        "test_users": evaluation["test_users"],
        "test_positives": evaluation["test_positives"],
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
