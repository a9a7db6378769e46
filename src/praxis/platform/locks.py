"""Transaction-scoped locks on things that have no row to lock (a provider's diary, say).

PostgreSQL: `pg_advisory_xact_lock` on a 64-bit key, released at commit or rollback. SQLite has
one writer at a time already (a writing command begins with BEGIN IMMEDIATE: `uow.write_lock`),
so there the lock is a no-op.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import Connection, text

from praxis.platform.hotsql import HotStatement

_LOCK = HotStatement(text("SELECT pg_advisory_xact_lock(:key)"))


def key_for(*ids: uuid.UUID) -> int:
    """A lock key: 64 bits of blake2b over the ids. A collision only makes two unrelated things
    queue behind each other."""
    digest = hashlib.blake2b(b"".join(i.bytes for i in ids), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def xact_lock(conn: Connection, key: int) -> None:
    """Wait for and take the lock `key` until the end of the connection's transaction."""
    if conn.dialect.name == "postgresql":
        _LOCK.run(conn, {"key": key})
