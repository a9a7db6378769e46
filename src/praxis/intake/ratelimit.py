"""A small in-memory sliding-window limiter for the public intake link pages.

Per process, which is enough to blunt guessing and scripted abuse of one link; a shared store
(PostgreSQL or Redis) is the upgrade when several web processes serve public traffic.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from praxis.platform.errors import TooManyRequests


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one request for `key`; raise TooManyRequests past the limit."""
        t = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= t - self.window:
                q.popleft()
            if len(q) >= self.limit:
                raise TooManyRequests("Too many requests for this link; wait a few minutes and try again")
            q.append(t)
            if len(self._hits) > 50_000:  # keep memory bounded under a flood of distinct keys
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= t - self.window]:
                    del self._hits[k]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


PER_TOKEN = SlidingWindowLimiter(limit=120, window_seconds=600)
PER_IP = SlidingWindowLimiter(limit=300, window_seconds=600)


def check(token_key: str, ip: str | None) -> None:
    PER_IP.hit(f"ip:{ip or '-'}")
    PER_TOKEN.hit(f"tok:{token_key}")


def reset() -> None:
    PER_TOKEN.reset()
    PER_IP.reset()
