"""Stored answers for `Idempotency-Key` requests: a replay returns the first answer.

The key is scoped by the caller's credential (a hash of the token or session), so two clients
can use the same key. A replay with another body is refused (422): it is a client bug.

The web layer looks a key up only after the caller is authenticated and holds the route's
permission (web.idempotent), so nothing is stored for, or replayed to, a caller who could not
make the request now; a replayed answer that carries patients' data is audited like a read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
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
    # Patients named by the audit rows of the first request: whose data the answer may carry.
    patient_ids: Mapped[list[Any] | None]


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


def complete(scope: str, key: str, status_code: int, headers: dict[str, str], body: bytes,
             patient_ids: Iterable[uuid.UUID] = ()) -> None:
    with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
        row = s.get(IdempotentRequest, (scope, key))
        if row is not None:
            row.status_code, row.headers, row.body = status_code, headers, body
            row.patient_ids = sorted(str(p) for p in patient_ids) or None


def audit_replay(ctx: Context, stored: IdempotentRequest, path: str) -> int:
    """Audit a replayed answer like any read: one row per patient whose data it may carry (those the
    first request's audit rows named). Returns the rows written."""
    patients = [uuid.UUID(p) for p in stored.patient_ids or []]
    if not patients:
        return 0
    with session_scope(ctx.org_id) as s:
        return audit.record_many(s, ctx, "idempotent.replay", "http_answer", [(path[:80], p) for p in patients],
                                 detail={"status": stored.status_code})


def release(scope: str, key: str) -> None:
    """Forget a reservation whose request failed with a server error, so a retry runs again."""
    with session_scope(None, system=True, reason="idempotency keys: keyed by caller") as s:
        s.execute(delete(IdempotentRequest).where(IdempotentRequest.scope == scope,
                                                  IdempotentRequest.key == key))


def purge(older_than: timedelta = RETENTION) -> None:
    with session_scope(None, system=True, reason="idempotency keys: purging expired keys of every caller") as s:
        s.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now() - older_than))
