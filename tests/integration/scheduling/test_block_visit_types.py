"""Template blocks can name only visit types of their own organisation (issue 17 finding 7): the
API answers 404 naming the field, the schema refuses the row, the migration cleans up old rows."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from praxis.platform import db as pdb
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from praxis.platform.ids import new_id
from praxis.platform.scoping import cross_org
from praxis.scheduling import service, setup
from praxis.scheduling.models import ScheduleBlockVisitType, ScheduleTemplate, ScheduleTemplateBlock

from .helpers import make_world, signed_in


@pytest.fixture
def world(org):
    return make_world(org)



def _all(sql: str) -> Any:
    """The migration's result in every organisation of the scratch database (a test's read)."""
    return cross_org(text(sql), "test: the migration's result across the scratch database's organisations")

def _templates(org_id):
    with session_scope(org_id) as s:
        return s.scalar(select(func.count()).select_from(ScheduleTemplate))


def _body(world, ids):
    return {"provider_id": str(world.provider_id), "location_id": str(world.org.loc_a.id),
            "effective_from": "2031-01-06",
            "blocks": [{"weekday": 0, "start_minute": 540, "end_minute": 720},
                       {"weekday": 1, "start_minute": 540, "end_minute": 720, "visit_type_ids": ids}]}


def test_a_visit_type_of_another_organisation_or_none_is_a_404_naming_the_field(world, other_org, make_user,
                                                                                 login):
    theirs = setup.create_visit_type(system_context(other_org.id), code="THEIRS", name="Theirs",
                                     duration_minutes=20)
    admin = signed_in(login, make_user(world.org, "org_admin"))
    before = _templates(world.org.id)
    for bad in (str(theirs.id), str(uuid.uuid4())):
        r = admin.post("/api/v1/scheduling/templates", json=_body(world, [str(world.visit_id), bad]))
        assert r.status_code == 404, r.text
        assert r.json()["field"] == "blocks.1.visit_type_ids.1"
    assert _templates(world.org.id) == before  # nothing written
    r = admin.post("/api/v1/scheduling/templates", json=_body(world, [str(world.visit_id)] * 2))
    assert r.status_code == 201, r.text
    assert [b["visit_type_ids"] for b in r.json()["blocks"]] == [[], [str(world.visit_id)]]
    listed = admin.get("/api/v1/scheduling/templates", params={"location_id": str(world.org.loc_a.id),
                                                               "provider_id": str(world.provider_id)}).json()
    assert [str(world.visit_id)] in [b["visit_type_ids"] for t in listed for b in t["blocks"]]


def test_the_schema_refuses_a_link_into_another_organisation(db, world, other_org):
    theirs = setup.create_visit_type(system_context(other_org.id), code="THEIRS2", name="Theirs",
                                     duration_minutes=20)
    with session_scope(world.org.id) as s:
        block_id = s.scalars(select(ScheduleTemplateBlock.id)).first()
    for vt in (theirs.id, uuid.uuid4()):
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(insert(ScheduleBlockVisitType.__table__),
                         [{"org_id": world.org.id, "id": new_id(), "block_id": block_id, "visit_type_id": vt}])


def test_a_limited_block_offers_only_its_visit_types(world):
    """The link table is what availability reads: a block limited to one visit type offers no other."""
    ctx = world.ctx
    p3 = setup.create_provider(ctx, first_name="Lim", last_name="Ited", location_ids=[world.org.loc_a.id])
    day = date(2031, 1, 6)  # a Monday
    setup.create_template(ctx, provider_id=p3.id, location_id=world.org.loc_a.id, effective_from=day,
                          effective_to=None, blocks=[{"weekday": 0, "start_minute": 540, "end_minute": 600,
                                                      "visit_type_ids": [world.visit_id]}])
    allowed = service.search_slots(ctx, world.visit_id, from_date=day, days=1, provider_ids=[p3.id])
    other = service.search_slots(ctx, world.room_visit_id, from_date=day, days=1, provider_ids=[p3.id])
    assert allowed and not other


def test_the_migration_keeps_own_ids_drops_foreign_ones_and_deletes_blocks_left_empty(db, tmp_path: Path):
    """Run the real migration on a scratch SQLite database holding rows as the old schema stored them."""
    from praxis.migrations.runner import downgrade, upgrade

    scratch = pdb.make_engine(f"sqlite:///{tmp_path / 'mig.db'}")
    pdb.configure(scratch)
    try:
        upgrade("scheduling_0002")
        o1, o2, loc, prov, tpl, vt1, vt2 = (new_id() for _ in range(7))
        keep, foreign, bogus = new_id(), new_id(), new_id()
        with scratch.begin() as c:
            for org in (o1, o2):
                c.execute(text("INSERT INTO organisations (id, slug, name, settings, created_at) "
                               "VALUES (:id, :slug, 'x', '{}', '2030-01-01 00:00:00')"),
                          {"id": org.hex, "slug": org.hex[-12:]})
            for org, vt in ((o1, vt1), (o2, vt2)):
                c.execute(text("INSERT INTO visit_types (org_id, id, code, name, duration_minutes, colour, "
                               "buffer_before_minutes, buffer_after_minutes, required_resource_kinds, patient_kind, "
                               "modality, self_bookable, active) VALUES (:o, :v, 'FU', 'FU', 20, '#000000', 0, 0, "
                               "'[]', 'any', 'in_person', 0, 1)"), {"o": org.hex, "v": vt.hex})
            c.execute(text("INSERT INTO locations (org_id, id, code, name, timezone, address_line1, address_line2, "
                           "city, state, postal_code, phone, place_of_service, settings, active, created_at) VALUES "
                           "(:o, :l, 'L', 'L', 'UTC', '', '', '', '', '', '', '11', '{}', 1, '2030-01-01')"),
                      {"o": o1.hex, "l": loc.hex})
            c.execute(text("INSERT INTO providers (org_id, id, first_name, last_name, credentials, specialties, "
                           "colour, allow_overbooking, active, created_at) VALUES (:o, :p, 'A', 'B', '', '[]', "
                           "'#000000', 0, 1, '2030-01-01')"), {"o": o1.hex, "p": prov.hex})
            c.execute(text("INSERT INTO schedule_templates (org_id, id, provider_id, location_id, name, "
                           "effective_from, created_at) VALUES (:o, :t, :p, :l, '', '2030-01-01', '2030-01-01')"),
                      {"o": o1.hex, "t": tpl.hex, "p": prov.hex, "l": loc.hex})
            for block, ids in ((keep, [str(vt1), str(vt2), "junk"]), (foreign, [str(vt2), str(uuid.uuid4())]),
                               (bogus, [])):
                c.execute(text("INSERT INTO schedule_template_blocks (org_id, id, template_id, weekday, "
                               "start_minute, end_minute, visit_type_ids) VALUES (:o, :b, :t, 0, 540, 600, :ids)"),
                          {"o": o1.hex, "b": block.hex, "t": tpl.hex, "ids": json.dumps(ids)})
        upgrade("scheduling_0003_secinput_blockvt")
        with scratch.connect() as c:
            blocks = {uuid.UUID(r[0]) for r in c.execute(_all("SELECT id FROM schedule_template_blocks"))}
            links = [(uuid.UUID(b), uuid.UUID(v)) for b, v in
                     c.execute(_all("SELECT block_id, visit_type_id FROM schedule_block_visit_types"))]
        assert blocks == {keep, bogus}  # the block naming only foreign ids offered nothing: deleted
        assert links == [(keep, vt1)]
        downgrade("scheduling_0002")
        with scratch.connect() as c:
            back = dict(c.execute(_all("SELECT id, visit_type_ids FROM schedule_template_blocks")).all())
        assert json.loads(back[keep.hex]) == [str(vt1)]
    finally:
        scratch.dispose()
        pdb.configure(db)
