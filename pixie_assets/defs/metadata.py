"""Metadata helpers shared by the asset modules."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pyarrow as pa


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


def figure_markdown(figure, alt: str) -> dg.MetadataValue:
    """A matplotlib figure embedded in markdown metadata as a PNG (the UI renders it inline)."""
    import base64
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")


def ccdf_figure(series: dict[str, np.ndarray], title: str, xlabel: str):
    """Log-log complementary CDFs: a heavy tail is a straight-ish line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
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


def line_figure(x, series: dict[str, np.ndarray], title: str, xlabel: str, ylabel: str, log=False):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        ax.plot(x, values, marker="o" if len(x) < 30 else None, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    fig.autofmt_xdate() if len(x) and isinstance(x[0], str) else None
    fig.tight_layout()
    return fig


def plot_markdown(figure, alt: str) -> dg.MetadataValue:
    """Render, embed and close a figure."""
    import matplotlib.pyplot as plt

    try:
        return figure_markdown(figure, alt)
    finally:
        plt.close(figure)
