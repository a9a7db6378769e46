"""API paging and per-client limits (decisions 40 and 41).

- `updated_at` on locations (`updated_since` filters on it; the other domains' tables get theirs
  in their own chains: scheduling_0004_paging, patients_0004_paging, interop_0004_paging,
  care_0004_paging). Existing rows start at their `created_at`.
- `api_clients.rate_limit_per_minute` (NULL: the setting `api_rate_limit_per_minute`) and
  `api_client_windows`, one row per client and Unix minute, counted with an UPSERT by every server
  process.

Revision ID: core_0004_paging
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "core_0004_paging"
down_revision = "core_0002_secinput_mrn_format"
branch_labels = None
depends_on = None

UPDATED_AT = {"locations": "created_at"}  # table -> the column existing rows take it from


def upgrade() -> None:
    for table, source in UPDATED_AT.items():
        # A plain ADD COLUMN, nullable: NOT NULL would make SQLite rebuild the table.
        op.add_column(table, sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
        t = sa.table(table, sa.column("updated_at", UTCDateTime(timezone=True)),
                     sa.column(source, UTCDateTime(timezone=True)))
        op.execute(t.update().values(updated_at=t.c[source]))
    op.add_column("api_clients", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_table(
        "api_client_windows",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("window_minute", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_api_client_windows_org_id_organisations")),
        sa.ForeignKeyConstraint(["org_id", "client_id"], ["api_clients.org_id", "api_clients.id"],
                                name=op.f("fk_api_client_windows_org_id_client_id_api_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "client_id", "window_minute", name=op.f("pk_api_client_windows")),
    )


def downgrade() -> None:
    op.drop_table("api_client_windows")
    op.drop_column("api_clients", "rate_limit_per_minute")
    for table in reversed(list(UPDATED_AT)):
        op.drop_column(table, "updated_at")  # SQLite >= 3.35 drops a column in place
