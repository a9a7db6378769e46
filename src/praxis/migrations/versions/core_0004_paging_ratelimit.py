"""API clients get a request limit of their own and a shared per-minute counter (decision 41).

`api_clients.rate_limit_per_minute` (NULL: the setting `api_rate_limit_per_minute`) and
`api_client_windows`, one row per client and Unix minute, counted with an UPSERT by every server
process.

Revision ID: core_0004_paging_ratelimit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0004_paging_ratelimit"
down_revision = "core_0002_secinput_mrn_format"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_table(
        "api_client_windows",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("window_minute", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"],
                                name=op.f("fk_api_client_windows_org_id_organisations")),
        sa.ForeignKeyConstraint(["org_id", "client_id"], ["api_clients.org_id", "api_clients.id"],
                                name=op.f("fk_api_client_windows_org_id_client_id_api_clients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "client_id", "window_minute", name=op.f("pk_api_client_windows")),
    )


def downgrade() -> None:
    op.drop_table("api_client_windows")
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("rate_limit_per_minute")
