"""Matplotlib for processes without a display (Dagster workers, MLflow logging, tests).

The figures are only ever rendered to PNG, so the non-interactive Agg backend is selected once,
here, before pyplot is first used: an interactive default backend would need a display and
could differ between machines. pyplot is imported on first use: it is slow to import and
most processes never draw.
"""

from __future__ import annotations

import io
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PNG_DPI = 80


@cache
def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` with the Agg backend selected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def figure_png(figure: Figure, dpi: int = PNG_DPI) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def close_figure(figure: Figure) -> None:
    """Release the figure: pyplot keeps every figure it created until it is closed."""
    pyplot().close(figure)
