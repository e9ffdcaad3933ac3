"""Quiet hours and retry backoff: pure rules, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from defchain.notify.rules import in_quiet_hours, parse_hhmm, quiet_until, retry_after

NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_parse_hhmm_reads_24_hour_times_and_refuses_the_rest() -> None:
    assert parse_hhmm("07:05") == time(7, 5)
    assert parse_hhmm(" 23:59 ") == time(23, 59)
    assert parse_hhmm("00:00") == time(0, 0)
    assert parse_hhmm("") is None
    for bad in ("7:00", "24:00", "12:60", "noon", "12:00pm", "1200", "12:00:00"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        ("21:59", False),
        ("22:00", True),  # the start is quiet
        ("23:30", True),
        ("00:00", True),
        ("06:59", True),
        ("07:00", False),  # the end is not
        ("12:00", False),
    ],
)
def test_quiet_hours_over_midnight(local: str, quiet: bool) -> None:
    moment = parse_hhmm(local)
    assert moment is not None
    assert in_quiet_hours(moment, "22:00", "07:00") is quiet


def test_quiet_hours_within_one_day() -> None:
    assert in_quiet_hours(time(13, 0), "12:30", "14:00")
    assert not in_quiet_hours(time(12, 29), "12:30", "14:00")
    assert not in_quiet_hours(time(14, 0), "12:30", "14:00")
    assert not in_quiet_hours(time(3, 0), "12:30", "14:00")
    assert in_quiet_hours(time(13, 0), time(12, 30), time(14, 0))  # times work too


def test_empty_or_equal_bounds_mean_no_quiet_hours() -> None:
    for start, end in (("", ""), ("22:00", ""), ("", "07:00"), ("08:00", "08:00")):
        assert not in_quiet_hours(time(8, 0), start, end)
        assert not in_quiet_hours(time(23, 0), start, end)
    assert quiet_until(utc(2026, 1, 5, 4, 0), NY, "", "") is None


def test_quiet_until_is_the_utc_end_in_the_agencys_zone() -> None:
    # 2026-01-05 04:00 UTC is 23:00 EST on the 4th: quiet until 07:00 EST = 12:00 UTC.
    assert quiet_until(utc(2026, 1, 5, 4, 0), NY, "22:00", "07:00") == utc(2026, 1, 5, 12, 0)
    # 02:00 EST on the 5th (after midnight): the same morning's end.
    assert quiet_until(utc(2026, 1, 5, 7, 0), NY, "22:00", "07:00") == utc(2026, 1, 5, 12, 0)
    # 09:00 EST: not quiet.
    assert quiet_until(utc(2026, 1, 5, 14, 0), NY, "22:00", "07:00") is None
    # Summer (EDT, UTC-4): 07:00 local is 11:00 UTC.
    assert quiet_until(utc(2026, 7, 1, 4, 0), NY, "22:00", "07:00") == utc(2026, 7, 1, 11, 0)
    # Another zone, same wall clock: Los Angeles is three hours behind.
    assert quiet_until(utc(2026, 1, 5, 7, 0), "America/Los_Angeles", "22:00", "07:00") == utc(
        2026, 1, 5, 15, 0
    )


def test_quiet_until_across_the_spring_change() -> None:
    # 2026-03-08: New York's clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    # Quiet 22:00-07:00 from 23:00 EST on the 7th: ends 07:00 EDT = 11:00 UTC, not 12:00.
    assert quiet_until(utc(2026, 3, 8, 4, 0), NY, "22:00", "07:00") == utc(2026, 3, 8, 11, 0)
    # An end in the skipped hour (02:30) ends when the clock jumps: 07:00 UTC.
    end = quiet_until(utc(2026, 3, 8, 6, 0), NY, "22:00", "02:30")
    assert end == utc(2026, 3, 8, 7, 0)
    assert end is not None and not in_quiet_hours(
        end.astimezone(ZoneInfo(NY)).time(), "22:00", "02:30"
    )
    assert in_quiet_hours(
        (end - timedelta(seconds=1)).astimezone(ZoneInfo(NY)).time(), "22:00", "02:30"
    )


def test_quiet_until_across_the_autumn_change() -> None:
    # 2026-11-01: New York's 01:00-02:00 happens twice (EDT, then EST).
    # Quiet 22:00-07:00 from 23:00 EDT on Oct 31: ends 07:00 EST = 12:00 UTC.
    assert quiet_until(utc(2026, 11, 1, 3, 0), NY, "22:00", "07:00") == utc(2026, 11, 1, 12, 0)
    # An end in the repeated hour: its first occurrence (01:30 EDT = 05:30 UTC) ...
    assert quiet_until(utc(2026, 11, 1, 5, 10), NY, "22:00", "01:30") == utc(2026, 11, 1, 5, 30)
    # ... or, once that has passed (01:10 EST), the second one (01:30 EST = 06:30 UTC).
    assert quiet_until(utc(2026, 11, 1, 6, 10), NY, "22:00", "01:30") == utc(2026, 11, 1, 6, 30)


def test_quiet_until_is_always_in_the_future() -> None:
    start = utc(2026, 1, 1, 0, 0)
    for minutes in range(0, 60 * 24 * 3, 37):
        now = start + timedelta(minutes=minutes)
        end = quiet_until(now, NY, "21:15", "06:45")
        local = now.astimezone(ZoneInfo(NY)).time()
        assert (end is not None) == in_quiet_hours(local, "21:15", "06:45")
        if end is not None:
            assert now < end <= now + timedelta(hours=9, minutes=30)


def test_quiet_until_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        quiet_until(datetime(2026, 1, 5, 4, 0), NY, "22:00", "07:00")


def test_retry_backoff_doubles_from_one_minute_and_caps_at_an_hour() -> None:
    minutes = [retry_after(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_after(0) == timedelta(minutes=1)
    assert retry_after(10_000) == timedelta(minutes=60)  # never gives up, never overflows
