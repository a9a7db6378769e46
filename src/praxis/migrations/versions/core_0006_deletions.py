"""Tombstones of records deleted outright, for `GET /api/v1/deletions` and the FHIR export's
`deleted` list (decision 55).

Revision ID: core_0006_deletions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "core_0006_deletions"
down_revision = "core_0005_updsince"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletions",
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_deletions_org_id_organisations")),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_deletions")),
    )
    op.create_index("ix_deletions_org_deleted", "deletions", ["org_id", "deleted_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deletions_org_deleted", table_name="deletions")
    op.drop_table("deletions")
