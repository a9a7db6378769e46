"""The registry sync: `GET /api/v1/patients?updated_since=T` with no other criterion (decision 48).

Every patient the caller may see, created or changed at or after T, any status, in (updated_at, id)
order, paged by SQL through `Link: rel=next`, each one audited as a search result. A plain search
still needs a criterion."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from praxis.patients import merge
from praxis.platform import clock
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from tests.integration.patients.helpers import register
from tests.sqlcount import statements

_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def _walk(c: Any, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages = []
    r = c.get("/api/v1/patients", params=params)
    while True:
        assert r.status_code == 200, r.text
        pages.append(r.json())
        link = r.headers.get("link")
        if link is None:
            return pages
        m = _LINK.match(link)
        assert m, link
        assert len(pages) < 50
        r = c.get(m.group(1))


def _mark() -> Any:
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    return mark


def test_sync_pages_every_patient_changed_since_in_updated_order(org, bearer):
    ctx = system_context(org.id, "test: registry")
    old = [register(ctx, first=f"Old{i}", last="Syncer", location_id=org.loc_a.id) for i in range(5)]
    mark = _mark()
    new = []
    for i in range(4):
        new.append(register(ctx, first=f"New{i}", last="Syncer", location_id=org.loc_a.id))
        clock.advance(timedelta(seconds=1))
    c = bearer(org, ["patients:read", "patients:write"])
    assert c.patch(f"/api/v1/patients/{old[2].id}", json={"preferred_name": "Changed"}).status_code == 200

    pages = _walk(c, {"updated_since": mark.isoformat(), "limit": 2})
    assert [len(p) for p in pages] == [2, 2, 1]
    rows = [row for page in pages for row in page]
    # Oldest change first: the four registrations, then the edit of an older record.
    assert [row["id"] for row in rows] == [str(p.id) for p in new] + [str(old[2].id)]
    stamps = [row["updated_at"] for row in rows]
    assert stamps == sorted(stamps) and all(s >= mark.isoformat()[:19] for s in stamps)

    # Each patient returned is audited, as any search result.
    with session_scope(org.id) as s:
        audited = set(s.scalars(select(AuditRecord.patient_id).where(
            AuditRecord.action == "patient.search_result", AuditRecord.patient_id.in_([p.id for p in old + new]))))
    assert audited == {p.id for p in new} | {old[2].id}


def test_sync_pages_in_sql(org, bearer):
    """A page reads `limit + 1` rows by the index order, never the whole registry."""
    ctx = system_context(org.id, "test: registry")
    mark = _mark()
    for i in range(12):
        register(ctx, first=f"Row{i}", last="Sqlpage", location_id=org.loc_a.id)
    c = bearer(org, ["patients:read"])
    with statements() as seen:
        r = c.get("/api/v1/patients", params={"updated_since": mark.isoformat(), "limit": 3})
    assert r.status_code == 200 and len(r.json()) == 3 and "link" in r.headers
    [query] = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM patients" in s
               and "ORDER BY patients.updated_at" in s]
    assert "LIMIT" in query.upper()


def test_sync_sees_merges_and_only_the_callers_locations(make_org, bearer):
    org = make_org("Sync Scoped", restrict_patient_search_to_locations=True)
    ctx = system_context(org.id, "test: registry")
    here = [register(ctx, first=f"Here{i}", last="Scope", location_id=org.loc_a.id) for i in range(2)]
    mark = _mark()
    there = register(ctx, first="There", last="Scope", location_id=org.loc_b.id)
    near = register(ctx, first="Near", last="Scope", location_id=org.loc_a.id)
    merge.merge_patients(ctx, here[0].id, here[1].id, "duplicate")
    scoped = bearer(org, ["patients:read"], location_ids=[org.loc_a.id])
    rows = scoped.get("/api/v1/patients", params={"updated_since": mark.isoformat()}).json()
    by_id = {row["id"]: row for row in rows}
    assert str(there.id) not in by_id  # registered at the other location only
    assert str(near.id) in by_id
    everywhere = bearer(org, ["patients:read"])
    by_id = {row["id"]: row for row in everywhere.get(
        "/api/v1/patients", params={"updated_since": mark.isoformat()}).json()}
    assert str(there.id) in by_id
    assert by_id[str(here[1].id)]["status"] == "merged"  # a sync learns of the merge


def test_a_plain_search_still_needs_a_criterion_and_the_sync_its_order(org, bearer):
    ctx = system_context(org.id, "test: registry")
    register(ctx, first="Any", last="Body", location_id=org.loc_a.id)
    c = bearer(org, ["patients:read"])
    assert c.get("/api/v1/patients").json() == []
    assert c.get("/api/v1/patients", params={"q": "   "}).json() == []
    since = (clock.now() - timedelta(days=1)).isoformat()
    r = c.get("/api/v1/patients", params={"updated_since": since, "sort": "name"})
    assert r.status_code == 422 and r.json()["field"] == "sort"
    r = c.get("/api/v1/patients", params={"updated_since": since, "offset": 5})
    assert r.status_code == 422 and r.json()["field"] == "offset"
    assert len(c.get("/api/v1/patients", params={"updated_since": since, "sort": "updated_at"}).json()) == 1
    # With a criterion, updated_since narrows the search, in the search's order.
    assert len(c.get("/api/v1/patients", params={"last": "Body", "updated_since": since}).json()) == 1
    later = (clock.now() + timedelta(days=1)).isoformat()
    assert c.get("/api/v1/patients", params={"last": "Body", "updated_since": later}).json() == []


def test_a_search_cursor_is_not_a_sync_position(org, bearer):
    ctx = system_context(org.id, "test: registry")
    for i in range(3):
        register(ctx, first=f"C{i}", last="Cursor", location_id=org.loc_a.id)
    c = bearer(org, ["patients:read"])
    link = c.get("/api/v1/patients", params={"last": "Cursor", "sort": "mrn", "limit": 1}).headers["link"]
    [cursor] = parse_qs(urlsplit(link[1:link.index(">")]).query)["cursor"]
    ok = c.get("/api/v1/patients", params={"last": "Cursor", "sort": "mrn", "limit": 1, "cursor": cursor})
    assert ok.status_code == 200 and len(ok.json()) == 1  # a valid cursor of the search
    since = (clock.now() - timedelta(days=1)).isoformat()
    r = c.get("/api/v1/patients", params={"updated_since": since, "cursor": cursor})
    assert r.status_code == 422 and r.json()["field"] == "cursor"
