"""One clock for the whole app, so tests can move time (idle timeout, expiry) without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    """Move the app's clock forward (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
