"""Template blocks name their visit types through a table with composite keys, not a JSON list.

schedule_template_blocks.visit_type_ids was a JSON list of ids stored as given: ids of another
organisation's visit types, or of none at all, were accepted. schedule_block_visit_types holds
(org_id, block_id, visit_type_id) with foreign keys (org_id, block_id) and (org_id, visit_type_id),
so the database refuses both. Existing rows are cleaned up on the way: an id that names no visit
type of the block's organisation is dropped; a block left with none of its ids is deleted (it
offered no bookable visit type before, and an empty list would now mean "any visit type").

Revision ID: scheduling_0003_secinput_blockvt
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from praxis.platform.ids import new_id

revision = "scheduling_0003_secinput_blockvt"
down_revision = "scheduling_0002"
branch_labels = None
depends_on = None

TABLE = "schedule_block_visit_types"
_RANDOM = {"postgresql": "floor(random() * 9007199254740991)::bigint", "sqlite": "random()"}
_BUMP = ("INSERT INTO scheduling_reference_versions (org_id, version) VALUES ({org}, {random}) "
         "ON CONFLICT (org_id) DO UPDATE SET version = excluded.version")

_blocks = sa.table("schedule_template_blocks", sa.column("org_id", sa.Uuid()), sa.column("id", sa.Uuid()),
                   sa.column("visit_type_ids", sa.JSON()))
_vts = sa.table("visit_types", sa.column("org_id", sa.Uuid()), sa.column("id", sa.Uuid()))
_links = sa.table(TABLE, sa.column("org_id", sa.Uuid()), sa.column("id", sa.Uuid()),
                  sa.column("block_id", sa.Uuid()), sa.column("visit_type_id", sa.Uuid()))


def _parse(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("block_id", sa.Uuid(), nullable=False),
        sa.Column("visit_type_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["org_id", "block_id"], ["schedule_template_blocks.org_id",
                                                         "schedule_template_blocks.id"],
                                name="fk_sbvt_block", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id", "visit_type_id"], ["visit_types.org_id", "visit_types.id"],
                                name="fk_sbvt_visit_type"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f(f"fk_{TABLE}_org_id_organisations")),
        sa.PrimaryKeyConstraint("id", "org_id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("org_id", "block_id", "visit_type_id", name="uq_sbvt_pair"),
    )
    conn = op.get_bind()
    known = {(o, v) for o, v in conn.execute(sa.select(_vts.c.org_id, _vts.c.id))}
    links: list[dict[str, object]] = []
    emptied: list[tuple[uuid.UUID, uuid.UUID]] = []
    dropped = 0
    for org_id, block_id, ids in conn.execute(sa.select(_blocks.c.org_id, _blocks.c.id, _blocks.c.visit_type_ids)):
        wanted = list(dict.fromkeys(p for p in (_parse(v) for v in ids or []) if p is not None))
        good = [v for v in wanted if (org_id, v) in known]
        dropped += len(ids or []) - len(good)
        if ids and not good:
            emptied.append((org_id, block_id))
        links += [{"org_id": org_id, "id": new_id(), "block_id": block_id, "visit_type_id": v} for v in good]
    if links:
        conn.execute(sa.insert(_links), links)
    for org_id, block_id in emptied:
        conn.execute(sa.delete(_blocks).where(_blocks.c.org_id == org_id, _blocks.c.id == block_id))
    if dropped or emptied:
        print(f"schedule template blocks: dropped {dropped} visit type id(s) naming no visit type of the "
              f"block's organisation; deleted {len(emptied)} block(s) that named only such ids")
    # Plain ALTER TABLE on both databases (SQLite >= 3.35): a batch copy would drop the table's triggers.
    op.execute("ALTER TABLE schedule_template_blocks DROP COLUMN visit_type_ids")
    _triggers(create=True)


def _triggers(*, create: bool) -> None:
    """Booking caches templates (scheduling_0002): a change to this table bumps the org's version."""
    if op.get_bind().dialect.name == "postgresql":
        if create:
            old, new = (_BUMP.format(org=f"{row}.org_id", random=_RANDOM["postgresql"]) for row in ("OLD", "NEW"))
            op.execute(f"CREATE FUNCTION scheduling_bump_{TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       f"BEGIN IF TG_OP = 'DELETE' THEN {old}; ELSE {new}; END IF; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER trg_scheduling_reference_{TABLE} AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {TABLE} FOR EACH ROW EXECUTE FUNCTION scheduling_bump_{TABLE}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS trg_scheduling_reference_{TABLE} ON {TABLE}")
            op.execute(f"DROP FUNCTION IF EXISTS scheduling_bump_{TABLE}()")
        return
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        if create:
            op.execute(f"CREATE TRIGGER trg_scheduling_reference_{TABLE}_{event.lower()} AFTER {event} ON {TABLE} "
                       f"BEGIN {_BUMP.format(org=f'{row}.org_id', random=_RANDOM['sqlite'])}; END")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS trg_scheduling_reference_{TABLE}_{event.lower()}")


def downgrade() -> None:
    _triggers(create=False)
    op.add_column("schedule_template_blocks",
                  sa.Column("visit_type_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    conn = op.get_bind()
    per_block: dict[tuple[uuid.UUID, uuid.UUID], list[str]] = {}
    for org_id, block_id, vt in conn.execute(sa.select(_links.c.org_id, _links.c.block_id, _links.c.visit_type_id)):
        per_block.setdefault((org_id, block_id), []).append(str(vt))
    for (org_id, block_id), ids in per_block.items():
        conn.execute(sa.update(_blocks).where(_blocks.c.org_id == org_id, _blocks.c.id == block_id)
                     .values(visit_type_ids=ids))
    op.drop_table(TABLE)
