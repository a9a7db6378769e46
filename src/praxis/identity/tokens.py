"""Opaque random tokens: the client keeps the token, the database only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> tuple[str, str, str]:
    """Returns (token, prefix, hash). Token format `prx_<prefix>_<secret>`; the prefix finds the row."""
    prefix = secrets.token_hex(6)
    token = f"prx_{prefix}_{secrets.token_urlsafe(32)}"
    return token, prefix, digest(token)


def parse_api_token(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "prx" or len(parts[1]) != 12:
        return None
    return parts[1]
