"""Metadata helpers shared by the asset modules."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import pyarrow as pa

from pixie_assets.core.plots import close_figure, figure_png, pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# Metadata keys that count things: shown as integers, whatever type computed them.
COUNT_WORDS = ("rows", "positives", "iteration", "requests", "examples", "candidates",
               "impressed", "saved", "clicked", "closeup", "hidden", "refit", "shards")  # fmt: skip


def display_number(key: str, value: float | int) -> float | int:
    """Counts as ints; other floats to 4 significant digits (a page of metrics reads at a
    glance, and no metric here is known to more digits than that). NaN stays NaN."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    if not np.isfinite(value):
        return value
    name = key.rsplit("/", 1)[-1]
    if value.is_integer() and any(word in name for word in COUNT_WORDS):
        return int(value)
    return float(f"{value:.4g}")


def display_numbers(values: dict[str, float | int]) -> dict[str, float | int]:
    return {key: display_number(key, value) for key, value in values.items()}


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.type),
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in schema
        ]
    )


def quantile_markdown(series: dict[str, np.ndarray], quantiles=(0.5, 0.9, 0.99)) -> str:
    """A markdown table of quantiles, max and mean for each named array (e.g. degrees)."""
    heads = " | ".join(f"p{round(q * 100)}" for q in quantiles)
    lines = [f"| | {heads} | max | mean |", "|---" * (len(quantiles) + 3) + "|"]
    for name, values in series.items():
        if len(values) == 0:
            lines.append(f"| {name} |" + " – |" * (len(quantiles) + 2))
            continue
        cells = " | ".join(f"{np.quantile(values, q):,.0f}" for q in quantiles)
        lines.append(f"| {name} | {cells} | {values.max():,.0f} | {values.mean():,.1f} |")
    return "\n".join(lines)


def figure_markdown(figure: Figure, alt: str) -> dg.MetadataValue:
    """A matplotlib figure embedded in markdown metadata as a PNG (the UI renders it inline)."""
    encoded = base64.b64encode(figure_png(figure)).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def ccdf_figure(series: dict[str, np.ndarray], title: str, xlabel: str) -> Figure:
    """Log-log complementary CDFs: a heavy tail is a straight-ish line."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        values = np.sort(values[values > 0])
        if len(values):
            share = 1.0 - np.arange(len(values)) / len(values)
            ax.loglog(values, share, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("share ≥ x")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def line_figure(
    x: Sequence[Any] | np.ndarray,
    series: dict[str, np.ndarray],
    title: str,
    xlabel: str,
    ylabel: str,
    log: bool = False,
) -> Figure:
    """One line per named series over a shared x (day labels are slanted to fit)."""
    fig, ax = pyplot().subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        ax.plot(x, values, marker="o" if len(x) < 30 else None, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    if len(x) and isinstance(x[0], str):
        fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def plot_markdown(figure: Figure, alt: str) -> dg.MetadataValue:
    """Render, embed and close a figure."""
    try:
        return figure_markdown(figure, alt)
    finally:
        close_figure(figure)


# --- links between the UIs ----------------------------------------------------------------------


def dagster_run_url(dagster_url: str, run_id: str) -> str:
    """A run's page in the Dagster UI served at ``dagster_url`` (``UiUrls.dagster``)."""
    return f"{dagster_url}/runs/{run_id}"


def url_entries(urls: Mapping[str, str | None]) -> dict[str, dg.MetadataValue]:
    """Links as clickable metadata (``MetadataValue.url``); a link that does not exist (no
    champion yet, say) is left out rather than shown as an empty value."""
    return {key: dg.MetadataValue.url(url) for key, url in urls.items() if url}


# --- asset check results that say what they checked ---------------------------------------------


def versus(value: float, limit: float, *, upper: bool = True, fmt: str = "{:.4g}") -> str:
    """The comparison a check made, on the side it fell: ``0.14 ≤ 0.25`` or ``0.31 > 0.25``
    for an upper limit, ``≥`` / ``<`` for a lower one. NaN meets no limit."""
    met = value <= limit if upper else value >= limit
    sign = ("≤" if met else ">") if upper else ("≥" if met else "<")
    return f"{fmt.format(value)} {sign} {fmt.format(limit)}"


def described_check(
    check_name: str,
    *,
    passed: bool,
    description: str,
    metadata: Mapping[str, Any],
    partition: str | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """A check result that says what it checked: ``description`` (one line: the partition and
    the comparison made, e.g. ``homefeed 2026-11-03: max PSI 0.14 ≤ 0.25``) as the result's
    description and first metadata entry, then the ``partition`` checked. The check specs are
    not partitioned, so without these the UI shows a check's latest result with no word of
    which partition it judged or against what."""
    head: dict[str, Any] = {"description": description}
    if partition is not None:
        head["partition"] = partition
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=bool(passed),
        severity=severity,
        description=description,
        metadata={**head, **metadata},
    )
