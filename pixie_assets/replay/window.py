"""Replay windows: the days whose saves are the ground truth, and the window a model learns from.

Days are whole UTC days, both ends included, because that is how people name evaluation periods
("the last week of October"). Everything a window's construction may know happened strictly
before ``start``; its labels are what happened in ``[start, end + 1 day)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta


class ReplayWindowError(ValueError):
    """A test window that cannot be replayed (end before start, unparsable day)."""


@dataclass(frozen=True)
class ReplayWindow:
    """Days ``start``..``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ReplayWindowError(
                f"replay window ends ({self.end}) before it starts ({self.start})"
            )

    @classmethod
    def parse(cls, start: str, end: str) -> ReplayWindow:
        try:
            return cls(date.fromisoformat(start), date.fromisoformat(end))
        except ValueError as error:
            if isinstance(error, ReplayWindowError):
                raise
            raise ReplayWindowError(
                f"replay window {start!r}..{end!r}: days must be YYYY-MM-DD ({error})"
            ) from None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def stop(self) -> date:
        """The first day after the window (exclusive bound of its events)."""
        return self.end + timedelta(days=1)

    @property
    def start_time(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day)

    @property
    def stop_time(self) -> datetime:
        return datetime(self.stop.year, self.stop.month, self.stop.day)

    def previous(self) -> ReplayWindow:
        """The window of the same length ending the day before this one starts: where the model
        evaluated on this window learns, so training never sees a test-window event."""
        return ReplayWindow(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def rolling_windows(
    last: ReplayWindow, windows: int = 1, window_days: int | None = None
) -> list[ReplayWindow]:
    """The test windows of a rolling-origin backtest, oldest first: ``windows`` consecutive
    windows of ``window_days`` days, the last one ``last``. Each is later
    trained only on its own past, so together they judge a ranker on many more users than one
    window holds (small logs have few users active in any one window)."""
    days = last.days if window_days is None else window_days
    if windows < 1:
        raise ReplayWindowError(f"--windows must be at least 1, not {windows}")
    if days != last.days:
        raise ReplayWindowError(
            f"the last test window {last} has {last.days} day(s), but --window-days is {days}: "
            f"pass --test-start {(last.end - timedelta(days=days - 1)).isoformat()}"
        )
    out = [last]
    for _ in range(windows - 1):
        out.append(out[-1].previous())
    return out[::-1]
