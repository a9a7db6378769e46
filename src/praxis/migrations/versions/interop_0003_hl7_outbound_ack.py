"""HL7 outbound: the ACK the peer answered with, as received (the outbound detail, decision 54).

Until now only its code (MSA-1) and the error text were kept; the detail screen and
`GET /api/v1/hl7/outbound/{id}` show the whole ACK beside the message as sent. Rows written
before have none ('').

Revision ID: interop_0003_hl7_outbound_ack
Revises: interop_0002_hl7_outbound
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "interop_0003_hl7_outbound_ack"
down_revision = "interop_0002_hl7_outbound"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hl7_outbound") as batch:
        batch.add_column(sa.Column("last_ack", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("hl7_outbound") as batch:
        batch.drop_column("last_ack")
