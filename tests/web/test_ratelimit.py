"""The public rate limit: a sliding window per keyed client hash, in memory only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from defchain.web.ratelimit import RateLimiter

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_the_window_slides() -> None:
    limiter = RateLimiter(secret_key="k" * 40, limit=2)
    assert limiter.allow("198.51.100.1", now=T0)
    assert limiter.allow("198.51.100.1", now=T0 + timedelta(seconds=30))
    assert not limiter.allow("198.51.100.1", now=T0 + timedelta(seconds=59))
    # The first request leaves the window at 60 s; the second is still in it.
    assert limiter.allow("198.51.100.1", now=T0 + timedelta(seconds=60))
    assert not limiter.allow("198.51.100.1", now=T0 + timedelta(seconds=61))


def test_clients_are_counted_apart_by_a_keyed_hash_never_the_address() -> None:
    limiter = RateLimiter(secret_key="k" * 40, limit=1)
    assert limiter.allow("198.51.100.1", now=T0)
    assert not limiter.allow("198.51.100.1", now=T0)
    assert limiter.allow("198.51.100.2", now=T0)
    assert "198.51.100" not in repr(limiter.__dict__)
    other_key = RateLimiter(secret_key="j" * 40, limit=1)
    assert other_key.client_key("198.51.100.1") != limiter.client_key("198.51.100.1")


def test_memory_is_bounded() -> None:
    limiter = RateLimiter(secret_key="k" * 40, limit=5, max_clients=3)
    for i in range(10):
        limiter.allow(f"198.51.100.{i}", now=T0)
    assert limiter.tracked_clients() == 3
