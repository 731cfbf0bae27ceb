"""``python -m pixie_assets.convert movielens|hetrec SRC DEST``: a public dataset's release folder
into a new landing folder, validated; one summary line per table, then one JSON line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pixie_assets.convert.common import ConvertError
from pixie_assets.convert.hetrec import convert_hetrec
from pixie_assets.convert.movielens import DEFAULT_SAVE_THRESHOLD, convert_movielens
from pixie_assets.landing import LandingContractError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m pixie_assets.convert",
        description="Convert a public dataset's release folder (SRC) into a new landing folder "
        "(DEST) in the data contract's layout, then validate it.",
    )
    datasets = top.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    movielens = datasets.add_parser(
        "movielens",
        help="MovieLens: ml-latest(-small), ml-25m, ml-20m, ml-10m, ml-1m or ml-100k",
        description="MovieLens ratings: a rating >= --save-threshold is a save on the user's "
        "board of the movie's genre; 3 up to it a closeup; below 3 a hide.",
    )
    hetrec = datasets.add_parser(
        "hetrec",
        help="HetRec 2011 tag assignments: lastfm-2k, delicious-2k or movielens-2k",
        description="HetRec 2011: every (user, item, tag) assignment is a save on the user's "
        "board of that tag; one save engagement per (user, item).",
    )
    for sub in (movielens, hetrec):
        sub.add_argument("src", type=Path, metavar="SRC", help="the unpacked release's folder")
        sub.add_argument("dest", type=Path, metavar="DEST", help="a new (or empty) folder")
        sub.add_argument(
            "--client", default="homefeed", help="the surface of the engagements (homefeed)"
        )
    movielens.add_argument(
        "--save-threshold",
        type=float,
        default=DEFAULT_SAVE_THRESHOLD,
        help=f"the lowest rating that is a save ({DEFAULT_SAVE_THRESHOLD})",
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.dataset == "movielens":
            report = convert_movielens(args.src, args.dest, args.save_threshold, args.client)
        else:
            report = convert_hetrec(args.src, args.dest, args.client)
    except ConvertError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except LandingContractError as error:
        print(f"error: the converted folder breaks the contract: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
