"""Cursor paging of the API's lists (decision 40), over HTTP: a walk sees every row once, rows added
mid-walk neither repeat nor hide earlier ones, `updated_since` filters, a cursor cannot be forged,
carried to another list or used by another organisation.

Two lists stand for the two ways a list pages: /patients pages in SQL (keyset condition in the
query), /locations in memory (the service's whole answer cut by the same keys)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from praxis.platform import clock
from praxis.platform.context import system_context
from praxis.platform.errors import ValidationProblem
from praxis.platform.paging import PageRequest, decode_cursor, encode_cursor, keyset_page
from tests.integration.patients.helpers import register

_LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def _next(r: Any) -> str | None:
    link = r.headers.get("link")
    if link is None:
        return None
    m = _LINK.match(link)
    assert m, link
    return m.group(1)


def _walk(c: Any, url: str, params: dict[str, Any], between: Any = None) -> list[list[dict[str, Any]]]:
    """Every page, following Link rel=next as given; `between(n)` runs after page n."""
    pages = []
    r = c.get(url, params=params)
    while True:
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if between is not None:
            between(len(pages))
        nxt = _next(r)
        if nxt is None:
            return pages
        assert len(pages) < 50, "the walk does not end"
        r = c.get(nxt)


def _patients(org: Any, n: int, last: str = "Pagewalk") -> list[Any]:
    ctx = system_context(org.id, "test: patients to page through")
    return [register(ctx, first=f"P{i:02d}", last=last, location_id=org.loc_a.id) for i in range(n)]


def test_walking_25_patients_by_10_yields_each_once(org, bearer):
    made = _patients(org, 25)
    c = bearer(org, ["patients:read"])
    pages = _walk(c, "/api/v1/patients", {"last": "Pagewalk", "limit": 10})
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [row["id"] for page in pages for row in page]
    assert sorted(ids) == sorted(str(p.id) for p in made) and len(set(ids)) == 25
    # In the list's order (last, first, dob, id), and the Link keeps the other parameters.
    assert [row["first_name"] for page in pages for row in page] == [f"P{i:02d}" for i in range(25)]
    first = c.get("/api/v1/patients", params={"last": "Pagewalk", "limit": 10})
    query = parse_qs(urlsplit(_next(first)).query)
    assert query["last"] == ["Pagewalk"] and query["limit"] == ["10"] and len(query["cursor"]) == 1
    assert urlsplit(_next(first)).scheme == "https"  # absolute


@pytest.mark.parametrize("sort", ["-name", "dob", "-created_at", "mrn"])
def test_every_sort_order_pages_without_gaps(org, bearer, sort):
    made = _patients(org, 12, last="Sortwalk")
    c = bearer(org, ["patients:read"])
    pages = _walk(c, "/api/v1/patients", {"last": "Sortwalk", "limit": 5, "sort": sort})
    ids = [row["id"] for page in pages for row in page]
    assert sorted(ids) == sorted(str(p.id) for p in made)
    whole = c.get("/api/v1/patients", params={"last": "Sortwalk", "limit": 200, "sort": sort}).json()
    assert ids == [row["id"] for row in whole]  # pages concatenate to the unpaged order


def test_rows_inserted_mid_walk_do_not_repeat_or_hide_earlier_rows(org, bearer):
    made = _patients(org, 25, last="Midwalk")
    c = bearer(org, ["patients:read"])
    ctx = system_context(org.id, "test: concurrent registrations")
    added: list[Any] = []

    def insert(n: int) -> None:
        if n == 1:  # one sorting before the page just read (P00 < P00a < P01 ...) and one after it all
            added.append(register(ctx, first="P00a", last="Midwalk", location_id=org.loc_a.id))
            added.append(register(ctx, first="Z99", last="Midwalk", location_id=org.loc_a.id))

    pages = _walk(c, "/api/v1/patients", {"last": "Midwalk", "limit": 10}, between=insert)
    ids = [row["id"] for page in pages for row in page]
    assert len(ids) == len(set(ids)), "a row came twice"
    assert {str(p.id) for p in made} <= set(ids), "an earlier row was skipped"
    assert str(added[1].id) in ids  # after the position: seen; P00a sorts before it: next walk's
    assert str(added[0].id) not in ids


def test_in_memory_list_walks_and_survives_inserts(org, make_user, login):
    admin = login(make_user(org, "org_admin"))
    for i in range(23):  # plus the org fixture's two locations: 25
        r = admin.post("/api/v1/locations", json={"name": f"Site {i:02d}", "code": f"S{i:02d}",
                                                  "timezone": "America/New_York"})
        assert r.status_code == 201, r.text

    def insert(n: int) -> None:
        if n == 1:
            assert admin.post("/api/v1/locations", json={"name": "Site 99", "code": "S99",
                                                         "timezone": "America/New_York"}).status_code == 201

    pages = _walk(admin, "/api/v1/locations", {"limit": 10}, between=insert)
    names = [row["name"] for page in pages for row in page]
    assert len(names) == len(set(names)) == 26
    assert names == sorted(names)


def test_updated_since_returns_only_rows_changed_since(org, bearer):
    made = _patients(org, 5, last="Since")
    clock.advance(timedelta(minutes=5))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    c = bearer(org, ["patients:read", "patients:write"])
    assert c.patch(f"/api/v1/patients/{made[3].id}", json={"preferred_name": "Tri"}).status_code == 200
    r = c.get("/api/v1/patients", params={"last": "Since", "updated_since": mark.isoformat()})
    assert r.status_code == 200
    assert [row["id"] for row in r.json()] == [str(made[3].id)]
    assert r.json()[0]["updated_at"] is not None
    assert len(c.get("/api/v1/patients", params={"last": "Since"}).json()) == 5
    naive = c.get("/api/v1/patients", params={"last": "Since", "updated_since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "query.updated_since"


def test_updated_since_on_an_in_memory_list_and_refused_where_rows_have_no_times(org, make_user, login):
    admin = login(make_user(org, "org_admin"))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    from tests.integration.intake.test_intake import two_step

    created = admin.post("/api/v1/intake/workflows", json={"name": "Sync check", "visit_type": "sync",
                                                           "definition": two_step()})
    assert created.status_code == 201, created.text
    rows = admin.get("/api/v1/intake/workflows", params={"updated_since": mark.isoformat()}).json()
    assert [w["name"] for w in rows] == ["Sync check"]
    # Business hours are computed, not rows: updated_since is refused, naming the parameter.
    r = admin.get(f"/api/v1/scheduling/locations/{org.loc_a.id}/hours",
                  params={"updated_since": mark.isoformat()})
    assert r.status_code == 422 and r.json()["field"] == "updated_since"


def test_tampered_or_garbled_cursor_is_422_naming_cursor(org, bearer):
    _patients(org, 3, last="Tamper")
    c = bearer(org, ["patients:read"])
    cursor = parse_qs(urlsplit(_next(c.get("/api/v1/patients", params={"last": "Tamper", "limit": 1}))).query)[
        "cursor"][0]
    body, sig = cursor.split(".")
    forged = encode_cursor("/api/v1/patients", org.id, ("a", "b", "1900-01-01", str(uuid.uuid4())))
    for bad in (body + "." + sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"),  # signature altered
                body[:-2] + "xx." + sig,  # position altered
                "garbage", "", "é.é", forged.split(".")[0] + "." + sig):
        r = c.get("/api/v1/patients", params={"last": "Tamper", "limit": 1, "cursor": bad})
        if bad == "":
            assert r.status_code == 200  # an empty cursor is the first page
            continue
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["field"] == "cursor"
    # A cursor of one list is not a cursor of another.
    r = c.get("/api/v1/locations", params={"cursor": cursor})
    assert r.status_code in (403, 422)


def test_another_organisations_cursor_yields_nothing_of_it(org, other_org, bearer):
    mine = _patients(org, 3, last="Crossorg")
    _patients(other_org, 3, last="Crossorg")
    a, b = bearer(org, ["patients:read"]), bearer(other_org, ["patients:read"])
    nxt = _next(a.get("/api/v1/patients", params={"last": "Crossorg", "limit": 1}))
    r = b.get(nxt)
    assert r.status_code == 422 and r.json()["field"] == "cursor"
    assert not any(str(p.id) in r.text for p in mine)


def test_offset_and_cursor_together_are_refused(org, bearer):
    _patients(org, 2, last="Both")
    c = bearer(org, ["patients:read"])
    nxt = _next(c.get("/api/v1/patients", params={"last": "Both", "limit": 1}))
    r = c.get(nxt + "&offset=1")
    assert r.status_code == 422 and r.json()["field"] == "offset"
    old = c.get("/api/v1/patients", params={"last": "Both", "limit": 1, "offset": 1})  # still served
    assert old.status_code == 200 and len(old.json()) == 1


def test_audit_log_pages_newest_first(org, make_user, login, bearer):
    _patients(org, 4, last="Auditpage")
    reader = bearer(org, ["patients:read"])
    reader.get("/api/v1/patients", params={"last": "Auditpage"})
    admin = login(make_user(org, "org_admin"))
    pages = _walk(admin, "/api/v1/audit", {"limit": 3})
    rows = [row for page in pages for row in page]
    assert len(rows) == len({row["id"] for row in rows}) >= 4
    stamps = [row["created_at"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)


# --- the codec ---------------------------------------------------------------------------------


def test_cursor_round_trip_and_binding():
    import datetime as dt

    org, other = uuid.uuid4(), uuid.uuid4()
    key = ("smith", dt.date(1980, 1, 2), dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC), uuid.uuid4(), 3, None)
    token = encode_cursor("/api/v1/x", org, key)
    assert decode_cursor(token, "/api/v1/x", org) == key
    for scope, owner in (("/api/v1/y", org), ("/api/v1/x", other), ("/api/v1/x", None)):
        with pytest.raises(ValidationProblem) as exc:
            decode_cursor(token, scope, owner)
        assert exc.value.field == "cursor"


def test_keyset_page_in_memory_is_stable():
    rows = [{"k": i // 3, "id": i} for i in range(10)]

    def key(r: dict[str, int]) -> tuple[int, int]:
        return (r["k"], r["id"])

    first = keyset_page(rows, PageRequest(4), key)
    assert [r["id"] for r in first.rows] == [0, 1, 2, 3] and first.next_key == (1, 3)
    rows.insert(0, {"k": 0, "id": 99})  # sorts at the end of k=0... before the position: not seen
    second = keyset_page(rows, PageRequest(4, first.next_key), key)
    assert [r["id"] for r in second.rows] == [4, 5, 6, 7]


def test_updated_at_added_by_the_migration_follows_changes(org, make_user, login):
    """Locations had no change time before core_0004_paging: a PATCH now moves updated_at, and
    updated_since finds exactly the changed one (also through the set-up lists' in-memory paging)."""
    admin = login(make_user(org, "org_admin"))
    before = {row["id"]: row["updated_at"] for row in admin.get("/api/v1/locations").json()}
    assert all(before.values())
    clock.advance(timedelta(minutes=1))
    mark = clock.now()
    clock.advance(timedelta(seconds=1))
    r = admin.patch(f"/api/v1/locations/{org.loc_b.id}", json={"name": "Renamed site"})
    assert r.status_code == 200, r.text
    assert r.json()["updated_at"] > before[str(org.loc_b.id)]
    rows = admin.get("/api/v1/locations", params={"updated_since": mark.isoformat()}).json()
    assert [row["id"] for row in rows] == [str(org.loc_b.id)]
