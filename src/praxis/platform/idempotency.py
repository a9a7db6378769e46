"""Stored answers for `Idempotency-Key` requests: a replay returns the first answer.

The key is scoped by the caller's credential (a hash of the token or session), so two clients
can use the same key. A replay with another body is refused (422): it is a client bug.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform.clock import now
from praxis.platform.db import Base, session_scope

PENDING_TIMEOUT = timedelta(seconds=60)
RETENTION = timedelta(hours=24)


class IdempotentRequest(Base):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # hash of the credential
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, Any] | None]
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=now)


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def begin(scope: str, key: str, request_hash: str) -> tuple[str, IdempotentRequest | None]:
    """Reserve the key. Returns ("new", None), ("replay", row), ("mismatch", row) or ("busy", row)."""
    with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
        existing = s.get(IdempotentRequest, (scope, key))
        if existing is not None:
            if existing.request_hash != request_hash:
                return "mismatch", existing
            if existing.status_code is None:
                if existing.created_at > now() - PENDING_TIMEOUT:
                    return "busy", existing
                s.delete(existing)  # an abandoned reservation (crashed request): take it over
                s.flush()
            else:
                return "replay", existing
    try:
        with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
            s.add(IdempotentRequest(scope=scope, key=key, request_hash=request_hash))
    except IntegrityError:
        return "busy", None
    return "new", None


def complete(scope: str, key: str, status_code: int, headers: dict[str, str], body: bytes) -> None:
    with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
        row = s.get(IdempotentRequest, (scope, key))
        if row is not None:
            row.status_code, row.headers, row.body = status_code, headers, body


def release(scope: str, key: str) -> None:
    """Forget a reservation whose request failed with a server error, so a retry runs again."""
    with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
        s.execute(delete(IdempotentRequest).where(IdempotentRequest.scope == scope,
                                                  IdempotentRequest.key == key))


def purge(older_than: timedelta = RETENTION) -> None:
    with session_scope(None, system=True, reason="idempotency keys: purging expired keys of every caller") as s:
        s.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now() - older_than))
