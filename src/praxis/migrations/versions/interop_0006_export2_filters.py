"""FHIR bulk export `_typeFilter` (decision 49): the filters of an export job, type -> queries.

Nullable (a later column: jobs queued before it have no filters). A plain ADD COLUMN, so SQLite
does not rebuild the table.

Revision ID: interop_0006_export2_filters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "interop_0006_export2_filters"
down_revision = "interop_0005_updsince"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("fhir_export_jobs", sa.Column("type_filters", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("fhir_export_jobs", "type_filters")
