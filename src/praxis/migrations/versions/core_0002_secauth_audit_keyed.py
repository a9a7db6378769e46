"""Audit chain heads remember where keyed links start and the newest record sealed.

Links sealed before this revision stay as they are (unkeyed SHA-256, which `verify` still checks);
every link sealed after it is keyed with the key ring's audit key. Rewriting the old links would
launder whatever they hide, so they are kept and marked instead: `keyed_from_seq` is the first
keyed sequence number (1 for a chain that starts after this revision), and the first signed
checkpoint of the chain records it outside the database. `sealed_through` (the newest created_at
sealed) lets the sealer refuse back-dated records.

Revision ID: core_0002_secauth_audit_keyed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from praxis.platform.db import UTCDateTime

revision = "core_0002_secauth_audit_keyed"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.add_column(sa.Column("keyed_from_seq", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("sealed_through", UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE audit_chain_heads SET keyed_from_seq = last_seq + 1, sealed_through = ("
               "SELECT max(r.created_at) FROM audit_records r "
               "WHERE r.org_id = audit_chain_heads.org_id AND r.seq IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("audit_chain_heads") as batch:
        batch.drop_column("sealed_through")
        batch.drop_column("keyed_from_seq")
