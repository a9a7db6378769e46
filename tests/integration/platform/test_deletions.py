"""Tombstones (decision 55): each hard delete of a listed record writes one in its transaction, and
`GET /api/v1/deletions` shows a caller exactly the ones its own lists would have shown the records of."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from praxis.care import timing
from praxis.identity import service as identity
from praxis.platform import clock
from praxis.platform.clock import now
from praxis.platform.db import session_scope
from praxis.platform.deletions import Deletion
from praxis.scheduling import setup
from tests.integration.care.helpers import enrol, new_patient
from tests.integration.care.helpers import make_world as make_care_world
from tests.integration.scheduling.helpers import make_world


def _tombstones(org: Any) -> list[Deletion]:
    with session_scope(org.id) as s:
        return list(s.scalars(select(Deletion).where(Deletion.org_id == org.id).order_by(Deletion.deleted_at)))


def _dead_template(w: Any, location_id: uuid.UUID) -> uuid.UUID:
    """A template made for later and ended before it began: deleted outright."""
    start = now().date() + timedelta(days=30)
    tpl = setup.create_template(w.ctx, provider_id=w.provider_id, location_id=location_id, effective_from=start,
                                effective_to=None, blocks=[{"weekday": 0, "start_minute": 540, "end_minute": 600}])
    setup.end_template(w.ctx, tpl.id, start - timedelta(days=1))
    return tpl.id


def test_ending_a_template_before_it_begins_leaves_a_tombstone(org: Any) -> None:
    w = make_world(org)
    kept = setup.create_template(w.ctx, provider_id=w.provider_id, location_id=org.loc_a.id,
                                 effective_from=date(2020, 1, 1), effective_to=None,
                                 blocks=[{"weekday": 1, "start_minute": 540, "end_minute": 600}])
    setup.end_template(w.ctx, kept.id, date(2021, 1, 1))  # ended, not deleted: the list shows the change
    gone = _dead_template(w, org.loc_a.id)
    [t] = _tombstones(org)
    assert (t.kind, t.record_id, t.location_id, t.parent_id) == ("schedule_templates", str(gone), org.loc_a.id, None)
    ids = {str(t.id) for t, _ in setup.list_templates(w.ctx, location_id=org.loc_a.id)}
    assert str(kept.id) in ids and str(gone) not in ids


def test_a_provider_leaving_a_location_leaves_a_tombstone(org: Any) -> None:
    w = make_world(org)  # the first provider works at loc_a and loc_b
    setup.update_provider(w.ctx, w.provider_id, changes={}, location_ids=[org.loc_b.id])
    [t] = _tombstones(org)
    assert (t.kind, t.location_id, t.parent_id) == ("provider_locations", org.loc_a.id, w.provider_id)
    setup.update_provider(w.ctx, w.provider_id, changes={}, location_ids=[org.loc_b.id])  # no change, no tombstone
    assert len(_tombstones(org)) == 1


def test_a_stopped_timer_is_a_tombstone_only_its_owner_sees(org: Any, make_user: Any, ctx_for: Any) -> None:
    w = make_care_world(org)
    me, other = (ctx_for(make_user(org, "care_coordinator", org.loc_a)) for _ in range(2))
    e = enrol(w, new_patient(w.ctx, org.loc_a.id), "ccm")
    t = timing.start_timer(me, e.id, activity="coordination")
    clock.advance(timedelta(minutes=3))
    timing.stop_timer(me, t.id)
    [d] = _tombstones(org)
    assert (d.kind, d.record_id, d.owner_id) == ("care_timers", str(t.id), me.actor_id)
    assert [r.record_id for r in identity.list_deletions(me, kinds=["care_timers"])] == [str(t.id)]
    assert identity.list_deletions(other, kinds=["care_timers"]) == []


def test_the_feed_since_scope_and_other_organisations(org: Any, other_org: Any, bearer: Any) -> None:
    w = make_world(org)
    before = now()
    clock.advance(timedelta(seconds=1))
    at_a, at_b = _dead_template(w, org.loc_a.id), _dead_template(w, org.loc_b.id)
    c = bearer(org, ["scheduling:read"])
    r = c.get("/api/v1/deletions", params={"updated_since": before.isoformat()})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [(x["kind"], x["record_id"]) for x in rows] == [("schedule_templates", str(at_a)),
                                                          ("schedule_templates", str(at_b))]
    assert rows[0]["updated_at"] == rows[0]["deleted_at"]
    later = (now() + timedelta(seconds=1)).isoformat()
    assert c.get("/api/v1/deletions", params={"updated_since": later}).json() == []
    # A token bound to loc_b hears of loc_b's template only.
    at_b_only = bearer(org, ["scheduling:read"], location_ids=[org.loc_b.id])
    assert [x["record_id"] for x in at_b_only.get("/api/v1/deletions").json()] == [str(at_b)]
    # Another organisation, even with every permission, sees none of them.
    assert bearer(other_org, ["scheduling:read", "care:log"]).get("/api/v1/deletions").json() == []


def test_kinds_follow_the_callers_permissions(org: Any, bearer: Any) -> None:
    w = make_world(org)
    _dead_template(w, org.loc_a.id)
    c = bearer(org, ["patients:read"])
    assert c.get("/api/v1/deletions").json() == []  # no scheduling:read: not shown
    r = c.get("/api/v1/deletions", params={"kind": "schedule_templates"})
    assert r.status_code == 403 and "scheduling:read" in r.text
    r = c.get("/api/v1/deletions", params={"kind": "patients"})
    assert r.status_code == 422 and r.json()["field"] == "kind" and "schedule_templates" in r.json()["detail"]
    ok = bearer(org, ["scheduling:read"])
    assert len(ok.get("/api/v1/deletions", params={"kind": "schedule_templates"}).json()) == 1
    assert ok.get("/api/v1/deletions", params={"kind": "provider_locations"}).json() == []


def test_the_feed_pages_by_cursor(org: Any, bearer: Any) -> None:
    w = make_world(org)
    made = []
    for _ in range(3):
        made.append(str(_dead_template(w, org.loc_a.id)))
        clock.advance(timedelta(seconds=1))
    c = bearer(org, ["scheduling:read"])
    seen, url, pages = [], "/api/v1/deletions?limit=2", 0
    while url:
        r = c.get(url)
        assert r.status_code == 200, r.text
        seen += [x["record_id"] for x in r.json()]
        pages += 1
        url = r.links.get("next", {}).get("url")
    assert seen == made and pages == 2
    assert c.get("/api/v1/deletions", params={"cursor": "nonsense"}).status_code == 422


def test_the_tombstone_commits_or_rolls_back_with_the_delete(org: Any, monkeypatch: Any) -> None:
    w = make_world(org)
    start = now().date() + timedelta(days=30)
    tpl = setup.create_template(w.ctx, provider_id=w.provider_id, location_id=org.loc_a.id, effective_from=start,
                                effective_to=None, blocks=[{"weekday": 0, "start_minute": 540, "end_minute": 600}])

    def fail(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(setup.audit, "record", fail)  # fails after the delete and the tombstone
    with pytest.raises(RuntimeError):
        setup.end_template(w.ctx, tpl.id, start - timedelta(days=1))
    assert _tombstones(org) == []
    assert str(tpl.id) in {str(t.id) for t, _ in setup.list_templates(w.ctx, location_id=org.loc_a.id)}
