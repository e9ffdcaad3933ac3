"""A per-client rate limit for the public pages that never keeps an IP address.

Clients are told apart by ``HMAC(secret_key, client address)``: the raw address is
never stored, and the keyed hash lives only in this process's memory (it is not
written to the database, a log or a file, and it is gone at restart). Without the
key the hashes cannot be turned back into addresses by trying every IPv4 address.

The window slides: a client may make ``limit`` requests in any ``window`` span.
With several worker processes each keeps its own count, so a client may get up to
``limit`` times the number of workers; this is abuse protection, not an exact quota.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

# Beyond this many distinct clients the least recently seen are forgotten, so memory
# stays bounded under a flood of addresses.
MAX_TRACKED_CLIENTS = 100_000


class RateLimiter:
    """Sliding-window counter of requests per keyed client hash."""

    def __init__(
        self,
        *,
        secret_key: str,
        limit: int,
        window: timedelta = timedelta(minutes=1),
        max_clients: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        self._key = secret_key.encode()
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def client_key(self, address: str) -> str:
        """The keyed hash that stands for a client address (never the address)."""
        return hmac.new(self._key, f"client:{address}".encode(), hashlib.sha256).hexdigest()

    def allow(self, address: str, *, now: datetime) -> bool:
        """Count one request from ``address``; False when it is over the limit."""
        key = self.client_key(address)
        horizon = now - self.window
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= horizon:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(now)
            self._hits[key] = hits  # re-inserted last: most recently seen
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            return allowed

    def tracked_clients(self) -> int:
        """How many client hashes are in memory (for tests and monitoring)."""
        with self._lock:
            return len(self._hits)
