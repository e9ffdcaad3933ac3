"""Pure decisions about when a notification may be e-mailed: quiet hours and retries.

No session, no clock: every function takes the moment it decides about.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

# Backoff after a failed send: 1, 2, 4, 8, 16, 32 minutes, then every hour for ever.
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(minutes=60)


def parse_hhmm(value: str) -> time | None:
    """``"HH:MM"`` (24-hour clock) as a time; ``""`` is no time (``None``).

    Raises ``ValueError`` for anything else, e.g. ``"7:00"``, ``"24:00"``, ``"noon"``.
    """
    value = value.strip()
    if not value:
        return None
    match = HHMM.match(value)
    if match is None:
        raise ValueError(f"'{value}' is not a time of day as HH:MM (24-hour clock)")
    return time(int(match.group(1)), int(match.group(2)))


def _as_time(value: str | time | None) -> time | None:
    if value is None or isinstance(value, time):
        return value
    return parse_hhmm(value)


def in_quiet_hours(local: time, start: str | time | None, end: str | time | None) -> bool:
    """Whether the local wall-clock time ``local`` falls in the quiet period.

    The period starts at ``start`` (included) and ends at ``end`` (excluded); when
    ``end`` is not after ``start`` it runs over midnight ("22:00"-"07:00"). Either one
    empty, or both equal, means no quiet hours.
    """
    begin, finish = _as_time(start), _as_time(end)
    if begin is None or finish is None or begin == finish:
        return False
    moment = local.replace(tzinfo=None)
    if begin < finish:
        return begin <= moment < finish
    return moment >= begin or moment < finish


def quiet_until(
    now_utc: datetime, tz_name: str, start: str | time | None, end: str | time | None
) -> datetime | None:
    """The UTC moment the quiet period that ``now_utc`` falls in ends; ``None`` when
    ``now_utc`` is not in quiet hours.

    Quiet hours are wall-clock times in the time zone ``tz_name``. Across a change of
    daylight-saving time the end is the first moment the local clock reads ``end`` or
    later: an end in the hour skipped in spring is the moment the clock jumps; an end in
    the hour repeated in autumn is its first occurrence (still after ``now_utc``).
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    finish = _as_time(end)
    zone = ZoneInfo(tz_name)
    local = now_utc.astimezone(zone)
    if finish is None or not in_quiet_hours(local.time(), start, end):
        return None
    day = local.date() if local.time().replace(tzinfo=None) < finish else local.date() + _DAY
    return _first_instant_at(day, finish, zone, after=now_utc)


_DAY = timedelta(days=1)


def _first_instant_at(day: date, wall: time, zone: ZoneInfo, *, after: datetime) -> datetime:
    """The first UTC instant after ``after`` at which the clock in ``zone`` reads at least
    ``day`` ``wall``."""
    naive = datetime.combine(day, wall)
    earlier = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    later = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    candidates = sorted({earlier, later})
    exists = [c for c in candidates if c.astimezone(zone).replace(tzinfo=None) == naive]
    if exists:
        # Normal (one instant) or repeated in autumn (two): the first one still ahead.
        ahead = [c for c in exists if c > after]
        return ahead[0] if ahead else exists[-1]
    # Skipped in spring: find the second the clock jumps past ``naive``.
    low, high = int(candidates[0].timestamp()), int(candidates[-1].timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def retry_after(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed send in a row: 1, 2, 4 … minutes,
    at most 60. Never "give up": the caller retries at the cap for ever."""
    if attempts <= 1:
        return FIRST_RETRY
    if attempts > 8:  # 2**7 minutes is already past the cap; no huge powers
        return MAX_RETRY
    wait: timedelta = FIRST_RETRY * (1 << (attempts - 1))
    return min(wait, MAX_RETRY)
