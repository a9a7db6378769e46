"""The *_updsince migrations (decision 48) on rows the old schema held: down, then up again, inside a
transaction rolled back after (both databases run DDL in a transaction). Every row gets an
`updated_at`: the latest time it already recorded, or the migration's time when it recorded none."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from praxis.identity import service as identity
from praxis.interop import webhooks
from praxis.patients import alerts, merge
from praxis.platform.db import UTCDateTime
from tests.tenancy import objects as o

VERSIONS = Path(__file__).resolve().parents[3] / "src" / "praxis" / "migrations" / "versions"
NAMES = ["core_0005_updsince", "patients_0005_updsince", "scheduling_0005_updsince", "billing_0002_updsince",
         "care_0005_updsince", "interop_0005_updsince"]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _columns(conn: Any, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_down_and_up_again_backfills_every_row(db, org):
    env = o.SeedEnv(org.id, org.loc_a.id, "MIG")
    # Rows of most tables, some with a later time than their creation (reviewed, acknowledged, unmerged).
    bg = o.make_break_glass(env)
    identity.review_break_glass(env.ctx, bg.id)
    alert = o.make_alert(env)
    alerts.acknowledge_alert(env.ctx, alert.extra_ids[0], alert.id, "seen")
    m = o.make_merge(env)
    merge.unmerge(env.ctx, m.id, "not the same person")
    webhooks.replay(env.ctx, o.make_delivery(env).id)
    for make in (o.make_role, o.make_api_client, o.make_document, o.make_room, o.make_template, o.make_entry,
                 o.make_rule, o.make_fee_schedule, o.make_connection, o.make_file, o.make_problem,
                 o.make_time_entry, o.make_timer):
        make(env)
    modules = [_load(n) for n in NAMES]
    started = datetime.now(UTC) - timedelta(seconds=1)

    with db.connect() as conn, conn.begin() as tx:
        with Operations.context(MigrationContext.configure(conn)):
            for module in reversed(modules):
                module.downgrade()
            assert all("updated_at" not in _columns(conn, t) for m_ in modules for t in m_.UPDATED_AT)
            assert "ix_patients_org_updated" not in {i["name"] for i in sa.inspect(conn).get_indexes("patients")}
            for module in modules:
                module.upgrade()
        assert "ix_patients_org_updated" in {i["name"] for i in sa.inspect(conn).get_indexes("patients")}
        checked: dict[str, int] = {}
        for module in modules:
            for table, sources in module.UPDATED_AT.items():
                t = sa.table(table, sa.column("org_id", sa.Uuid()), sa.column("updated_at", UTCDateTime(timezone=True)),
                             *(sa.column(s, UTCDateTime(timezone=True)) for s in sources))
                rows = conn.execute(sa.select(t.c.updated_at, *(t.c[s] for s in sources))
                                    .where(t.c.org_id == org.id)).all()
                for updated, *known in rows:
                    assert updated is not None, table
                    latest = next((k for k in known if k is not None), None)
                    if latest is not None:
                        assert updated == latest, (table, updated, known)
                    else:
                        assert updated >= started, table  # no time recorded: the migration's
                checked[table] = len(rows)
        tx.rollback()
    # The check ran over real rows of the tables seeded above (not over empty tables).
    seeded = {"memberships", "roles", "api_clients", "break_glass", "patient_alerts", "patient_merges",
              "patient_documents", "resources", "schedule_templates", "waitlist_entries", "reminder_rules",
              "clearinghouse_connections", "fee_schedules", "edi_files", "care_problems", "care_time_entries",
              "care_timers", "webhook_deliveries"}
    assert {t for t, n in checked.items() if n} >= seeded


def test_break_glass_reviewed_takes_its_review_time(db, org):
    """The order of `sources` matters: the latest recorded time wins (reviewed, not started)."""
    env = o.SeedEnv(org.id, org.loc_a.id, "MIG")
    bg = o.make_break_glass(env)
    identity.review_break_glass(env.ctx, bg.id)
    module = _load("core_0005_updsince")
    with db.connect() as conn, conn.begin() as tx:
        with Operations.context(MigrationContext.configure(conn)):
            module.downgrade()
            module.upgrade()
        t = sa.table("break_glass", sa.column("id", sa.Uuid()), sa.column("updated_at", UTCDateTime(timezone=True)),
                     sa.column("reviewed_at", UTCDateTime(timezone=True)),
                     sa.column("starts_at", UTCDateTime(timezone=True)))
        updated, reviewed, starts = conn.execute(sa.select(t.c.updated_at, t.c.reviewed_at, t.c.starts_at)
                                                 .where(t.c.id == bg.id)).one()
        assert reviewed is not None and updated == reviewed and reviewed >= starts
        tx.rollback()
