"""Statistics that show at a glance whether a world looks like Pinterest: skewed locales, a few
dominant topics, heavy-tailed pins, boards and users, and a minority of mixed boards."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

QUANTILES = (0.5, 0.9, 0.99)


def _shares(column: pa.ChunkedArray) -> dict[str, float]:
    counts = pc.value_counts(column)
    total = len(column)
    pairs = {str(v["values"]): int(v["counts"]) / total for v in counts.to_pylist()}
    return dict(sorted(pairs.items(), key=lambda kv: -kv[1]))


def _degree_stats(ids: pa.ChunkedArray, population: int) -> dict[str, float]:
    """Quantiles of how many rows each id has, counting ids with none (a pin never saved)."""
    counts = pc.value_counts(ids).field("counts").to_numpy()
    degrees = np.concatenate([counts, np.zeros(max(population - len(counts), 0), np.int64)])
    degrees.sort()
    top = degrees[-max(1, len(degrees) // 100) :]
    stats = {f"p{int(q * 100)}": float(np.quantile(degrees, q)) for q in QUANTILES}
    stats["max"] = float(degrees[-1]) if len(degrees) else 0.0
    stats["mean"] = float(degrees.mean()) if len(degrees) else 0.0
    stats["top1pct_share"] = float(top.sum() / max(degrees.sum(), 1))
    return stats


def summarize_world(tables: dict[str, pa.Table]) -> dict:
    boards, saves = tables["boards"], tables["saves"]
    return {
        "rows": {name: table.num_rows for name, table in tables.items()},
        "user_locales": _shares(tables["users"]["locale"]),
        "pin_locales": _shares(tables["pins"]["locale"]),
        "pin_topics": _shares(tables["pins"]["topic"]),
        "actions": _shares(tables["engagements"]["action"]),
        "saves_per_pin": _degree_stats(saves["pin_id"], tables["pins"].num_rows),
        "saves_per_board": _degree_stats(saves["board_id"], boards.num_rows),
        "saves_per_user": _degree_stats(saves["user_id"], tables["users"].num_rows),
        "mixed_board_share": boards["topic"].null_count / max(boards.num_rows, 1),
    }


def summary_markdown(summary: dict) -> str:
    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    def top(shares: dict[str, float], n: int) -> str:
        return ", ".join(f"{k} {pct(v)}" for k, v in list(shares.items())[:n])

    lines = ["| table | rows |", "|---|---:|"]
    lines += [f"| {name} | {rows:,} |" for name, rows in summary["rows"].items()]
    lines += [
        "",
        f"**User locales:** {top(summary['user_locales'], 6)}",
        "",
        f"**Pin locales:** {top(summary['pin_locales'], 6)}",
        "",
        f"**Top topics (of {len(summary['pin_topics'])}):** {top(summary['pin_topics'], 6)}",
        "",
        f"**Engagement actions:** {top(summary['actions'], 4)}",
        "",
        f"**Mixed-topic boards:** {pct(summary['mixed_board_share'])}",
        "",
        "| degree | p50 | p90 | p99 | max | mean | top 1% share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key in ("saves_per_pin", "saves_per_board", "saves_per_user"):
        s = summary[key]
        lines.append(
            f"| {key.replace('_', ' ')} | {s['p50']:.0f} | {s['p90']:.0f} | {s['p99']:.0f} "
            f"| {s['max']:.0f} | {s['mean']:.1f} | {pct(s['top1pct_share'])} |"
        )
    return "\n".join(lines)
