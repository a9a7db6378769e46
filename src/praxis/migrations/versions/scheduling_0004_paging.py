"""API paging (decision 40): `updated_at` on providers and visit types, for `updated_since`.

Nullable (a later column): existing rows start at their `created_at` (visit types, which have
none, at this migration). A plain ADD COLUMN, so SQLite does not rebuild the table (a rebuild
would drop visit_types' reference-version triggers).

Revision ID: scheduling_0004_paging
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "scheduling_0004_paging"
down_revision = "scheduling_0003_secinput_blockvt"
branch_labels = None
depends_on = None

# table -> the column existing rows take their updated_at from (None: the migration's time)
UPDATED_AT = {
    "providers": "created_at",
    "visit_types": None,
}


def upgrade() -> None:
    started = datetime.now(UTC)
    for table, source in UPDATED_AT.items():
        op.add_column(table, sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
        t = sa.table(table, sa.column("updated_at", UTCDateTime(timezone=True)),
                     *([sa.column(source, UTCDateTime(timezone=True))] if source else []))
        op.execute(t.update().values(updated_at=t.c[source] if source else started))


def downgrade() -> None:
    for table in UPDATED_AT:
        op.drop_column(table, "updated_at")
