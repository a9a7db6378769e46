"""Per-organisation version of the scheduling reference data, bumped by database triggers.

Booking keeps visit types, locations, provider links, templates, business hours, closures,
reminder rules and the organisation's settings in a per-process cache (scheduling/reference.py)
and checks this version inside every booking transaction. Triggers, not application code, bump
it, so every write path is covered: the ORM, Core statements, bulk COPY, imports, a DBA's psql.
No foreign key to organisations: a deleted organisation's triggers still bump (an orphan counter
is harmless, a refused delete is not).

Revision ID: scheduling_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "scheduling_0002"
down_revision = "scheduling_0001"
branch_labels = None
depends_on = None

# table -> the column holding the organisation id
TABLES = {
    "organisations": "id",
    "locations": "org_id",
    "providers": "org_id",
    "provider_locations": "org_id",
    "visit_types": "org_id",
    "business_hours": "org_id",
    "closures": "org_id",
    "schedule_templates": "org_id",
    "schedule_template_blocks": "org_id",
    "reminder_rules": "org_id",
}

# A fresh random version, not a counter: a restored backup or a recreated row can then never bring
# back a number a process has cached with other data.
_RANDOM = {"postgresql": "floor(random() * 9007199254740991)::bigint", "sqlite": "random()"}
_BUMP = ("INSERT INTO scheduling_reference_versions (org_id, version) VALUES ({org}, {random}) "
         "ON CONFLICT (org_id) DO UPDATE SET version = excluded.version")


def upgrade() -> None:
    op.create_table(
        "scheduling_reference_versions",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_scheduling_reference_versions"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, col in TABLES.items():
            op.execute(
                f"CREATE FUNCTION scheduling_bump_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF TG_OP = 'DELETE' THEN {_BUMP.format(org='OLD.' + col, random=_RANDOM['postgresql'])}; "
                f"ELSE {_BUMP.format(org='NEW.' + col, random=_RANDOM['postgresql'])}; END IF; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER trg_scheduling_reference_{table} AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {table} FOR EACH ROW EXECUTE FUNCTION scheduling_bump_{table}()")
    else:
        for table, col in TABLES.items():
            for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                op.execute(
                    f"CREATE TRIGGER trg_scheduling_reference_{table}_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN {_BUMP.format(org=f'{row}.{col}', random=_RANDOM['sqlite'])}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_scheduling_reference_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS scheduling_bump_{table}()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_scheduling_reference_{table}_{event}")
    op.drop_table("scheduling_reference_versions")
