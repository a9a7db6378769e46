"""The `updated_at` column a migration gives an existing table (decisions 40 and 48).

Nullable and a plain ADD COLUMN: NOT NULL would make SQLite rebuild the table, and a rebuild drops
the triggers some tables carry (scheduling's reference versions). Existing rows take the latest time
they already record (the first non-NULL of `sources`, e.g. reviewed, ended, started), or the
migration's time when the table records none: "changed at or before now" is all we know of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime


def add(table: str, sources: Sequence[str]) -> None:
    """Add `table.updated_at` and fill it from `sources` (coalesced in order) or now."""
    op.add_column(table, sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
    t = sa.table(table, sa.column("updated_at", UTCDateTime(timezone=True)),
                 *(sa.column(s, UTCDateTime(timezone=True)) for s in sources))
    # One value for the rows that record no time, bound through the column's type (SQLite stores
    # naive UTC text, PostgreSQL timestamptz): the database's own now() would differ in format.
    moment = sa.bindparam("moment", datetime.now(UTC), UTCDateTime(timezone=True))
    value = sa.func.coalesce(*(t.c[s] for s in sources), moment) if sources else moment
    op.execute(t.update().values(updated_at=value))

def drop(table: str) -> None:
    op.drop_column(table, "updated_at")  # SQLite >= 3.35 drops a column in place
