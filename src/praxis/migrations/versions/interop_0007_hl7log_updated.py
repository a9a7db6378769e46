"""The HL7 log screen and API (decision 51): `updated_at` on outbound HL7 rows (attempts, resends
and the dead state change them), and the indexes of both logs' order (newest first).

Inbound messages get no `updated_at`: every write sets `received_at` or `processed_at`, so the
later of the two is their change time.

Revision ID: interop_0007_hl7log_updated
"""

from __future__ import annotations

from alembic import op

from praxis.migrations import updated_at

revision = "interop_0007_hl7log_updated"
down_revision = "interop_0006_export2_filters"
branch_labels = None
depends_on = ("interop_0002_hl7_outbound",)  # the HL7 tables are on the interop_hl7 branch


def upgrade() -> None:
    updated_at.add("hl7_outbound", ("delivered_at", "created_at"))
    op.create_index("ix_hl7_outbound_org_created", "hl7_outbound", ["org_id", "created_at"])
    op.create_index("ix_hl7_messages_org_received", "hl7_messages", ["org_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_hl7_messages_org_received", table_name="hl7_messages")
    op.drop_index("ix_hl7_outbound_org_created", table_name="hl7_outbound")
    updated_at.drop("hl7_outbound")
