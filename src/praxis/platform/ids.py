"""Identifiers: time-ordered UUIDs (UUIDv7 layout, so primary-key indexes stay append-mostly),
parsing ids from outside, and readable keys made from names."""

from __future__ import annotations

import os
import re
import time
import uuid


def new_id() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def parse_id(value: str, field: str = "id") -> uuid.UUID:
    """Parse an identifier from the outside world; a bad one is simply not found."""
    from praxis.platform.errors import NotFound

    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound(f"No such {field}", field=field) from None


def slug(text: str, *, max_length: int, fallback: str) -> str:
    """A readable key from a name: lower-case letters, digits and `_` ("Packs per day?" ->
    "packs_per_day"), at most `max_length` long; `fallback` when nothing is left."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")[:max_length] or fallback
