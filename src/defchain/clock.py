"""Time as a dependency: rules take ``now`` as a value; services get it from a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time, timezone-aware in UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        """Move forward, e.g. ``advance(minutes=31)``."""
        self._now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (forward only: time in a test never runs backwards)."""
        if moment.tzinfo is None:
            raise ValueError("the clock keeps timezone-aware UTC times")
        if moment < self._now:
            raise ValueError("the clock only moves forward")
        self._now = moment
