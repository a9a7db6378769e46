"""Key rotation: re-encrypt every registered encrypted column under the new active key.

Runs in batches of short transactions while the app serves: readers decrypt with whichever key
id a value carries, so old and new ciphertexts coexist until the sweep finishes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from praxis.platform import crypto
from praxis.platform.db import get_engine
from praxis.platform.scoping import cross_org

_EVERY_ORG = "key rotation re-encrypts every organisation's rows"


def rotate(path: Path, *, batch: int = 500, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Add a key, make it active, re-encrypt all rows; returns rows re-encrypted per column."""
    ring = crypto.load_or_create(path).rotated()
    crypto.save(ring, path)
    crypto.install(ring)
    return reencrypt(ring, batch=batch, progress=progress)


def reencrypt(ring: crypto.KeyRing, *, batch: int = 500,
              progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Re-encrypt values not under the active key (idempotent; safe to re-run after a crash)."""
    engine = get_engine()
    counts: dict[str, int] = {}
    prefix = f"v1:{ring.active}:"
    for table, pk, column in crypto.ENCRYPTED_COLUMNS:
        done = 0
        cols = ", ".join(pk)
        while True:
            with engine.begin() as conn:
                rows = conn.execute(cross_org(text(
                    f"SELECT {cols}, {column} FROM {table} "  # noqa: S608 - names come from code
                    f"WHERE {column} IS NOT NULL AND {column} NOT LIKE :p LIMIT :n"), _EVERY_ORG),
                    {"p": prefix + "%", "n": batch}).all()
                if not rows:
                    break
                where = " AND ".join(f"{c} = :{c}" for c in pk)
                for row in rows:
                    values = dict(zip(pk, row[: len(pk)], strict=True))
                    plain = ring.decrypt(row[len(pk)])
                    conn.execute(cross_org(text(
                        f"UPDATE {table} SET {column} = :v WHERE {where} AND {column} = :old"), _EVERY_ORG),  # noqa: S608
                        {**values, "v": ring.encrypt(plain), "old": row[len(pk)]})
                done += len(rows)
                if progress:
                    progress(f"{table}.{column}", done)
        counts[f"{table}.{column}"] = done
    return counts
