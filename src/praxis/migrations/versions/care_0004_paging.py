"""API paging (decision 40): `updated_at` on care enrolments, for `updated_since`.

Nullable (a later column): existing rows start at their `created_at`. A plain ADD COLUMN, so SQLite does not
rebuild the table (a rebuild drops triggers).

Revision ID: care_0004_paging
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "care_0004_paging"
down_revision = "care_0003_careplan"
branch_labels = None
depends_on = None

# table -> the column existing rows take their updated_at from (None: the migration's time)
UPDATED_AT = {
    "care_enrolments": "created_at",
}


def upgrade() -> None:
    for table, source in UPDATED_AT.items():
        op.add_column(table, sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
        t = sa.table(table, sa.column("updated_at", UTCDateTime(timezone=True)),
                     *([sa.column(source, UTCDateTime(timezone=True))] if source else []))
        op.execute(t.update().values(updated_at=t.c[source] if source else None))


def downgrade() -> None:
    for table in UPDATED_AT:
        op.drop_column(table, "updated_at")
