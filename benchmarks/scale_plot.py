"""How each asset's cost grows with its work: reports of ``benchmarks/large_day.py`` at two or
more world scales drawn on log–log axes (wall time against work, one line per asset, a dashed
slope-1 guide through each asset's smallest point: a line steeper than its guide grows worse than
linearly), and a Markdown table of the figures with each asset's growth exponent.

    .venv/bin/python benchmarks/scale_plot.py demo.json large.json --out docs/images/scale.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = (
    "world", "pin_board_graph", "walk_candidates", "serving_logs", "serving_log_table",
    "labeled_examples", "lightweight_model", "model_evaluation",
)  # fmt: skip


def load(paths: list[Path]) -> list[dict]:
    reports = [json.loads(p.read_text()) for p in paths]
    return sorted(reports, key=lambda r: (r["assets"].get("world", {}).get("work", 0), r["dask"]))


def exponent(small: dict, large: dict) -> float | None:
    """b in wall ∝ work^b between two scales (1: linear)."""
    if not (small["work"] and large["work"] and small["wall_s"] and large["wall_s"]):
        return None
    if large["work"] == small["work"]:
        return None
    return math.log(large["wall_s"] / small["wall_s"]) / math.log(large["work"] / small["work"])


def run_name(report: dict) -> str:
    return f"{report['scale']}, {report['dask'] or 'in process'}"


def table(reports: list[dict]) -> str:
    """A row per asset and run: work, wall time, throughput, peak RSS, and the growth exponent
    from the smaller world run the same way."""
    lines = [
        "| asset | run | work | wall s | per s | peak RSS GB | growth exponent |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for asset in ORDER:
        for i, report in enumerate(reports):
            row = report["assets"].get(asset)
            if row is None:
                continue
            smaller = [r for r in reports[:i] if r["dask"] == report["dask"]]
            base = smaller[0]["assets"].get(asset) if smaller else None
            growth = exponent(base, row) if base else None
            per_s = f"{row['per_s']:,}" if row["per_s"] else "–"
            lines.append(
                f"| {asset} | {run_name(report)} | {row['work']:,} {row['unit']} | "
                f"{row['wall_s']:,.1f} | {per_s} | {row['peak_rss_gb']} | "
                f"{'' if growth is None else f'{growth:.2f}'} |"
            )
    day = "; ".join(
        f"{run_name(r)}: {r['day_wall_s']:,.0f} s, peak {r['peak_rss_gb']} GB" for r in reports
    )
    lines.append(f"\nWhole day — {day}.")
    return "\n".join(lines)


def plot(reports: list[dict], out: Path) -> None:
    figure, axes = plt.subplots(figsize=(7.5, 5.5))
    in_process = [r for r in reports if not r["dask"]] or reports
    for asset in ORDER:
        rows = [r["assets"].get(asset) for r in in_process]
        points = [(row["work"], row["wall_s"]) for row in rows if row and row["work"]]
        if len(points) < 2:
            continue
        work, wall = zip(*points, strict=True)
        (line,) = axes.plot(work, wall, marker="o", label=asset)
        guide = [wall[0] * w / work[0] for w in work]
        axes.plot(work, guide, linestyle="--", linewidth=0.8, color=line.get_color())
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("work (rows, or walk steps for walk_candidates)")
    axes.set_ylabel("wall time, s")
    scales = " → ".join(
        sorted({r["scale"] for r in reports}, key=[r["scale"] for r in reports].index)
    )
    axes.set_title(f"Cost vs work per asset, one day ({scales}); dashed: linear growth")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+", help="large_day.py --out files")
    parser.add_argument("--out", type=Path, default=Path("docs/images/scale.png"))
    args = parser.parse_args()
    reports = load(args.reports)
    plot(reports, args.out)
    print(table(reports))
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main()
