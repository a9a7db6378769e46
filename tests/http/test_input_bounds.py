"""Inputs that once reached a 500 answer 422 naming the field, and change nothing (issue 17
finding 5): numbers beyond 64 bits, dates at the ends of the calendar, unknown country codes."""

from __future__ import annotations

from datetime import date

import pytest

from tests.integration.patients.helpers import ensure_routes, staff
from tests.integration.scheduling.helpers import make_world

HUGE = "99999999999999999999999"


@pytest.fixture
def admin(app, org, make_user, login):
    ensure_routes(app)
    return staff(login, make_user(org, "org_admin"))


@pytest.fixture
def world(org):
    return make_world(org)


def _is_422(r, field):
    assert r.status_code == 422, (r.status_code, r.text[:500])
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field, r.json()


@pytest.mark.parametrize("params,field", [
    ({"q": "smith", "offset": HUGE}, "query.offset"),
    ({"q": "smith", "offset": "2000000000"}, "query.offset"),
    ({"q": "smith", "limit": HUGE}, "query.limit"),
    ({"dob": "0001-01-01"}, "query.dob"),
    ({"dob": "9999-12-31"}, "query.dob"),
])
def test_patient_search_bounds(admin, params, field):
    _is_422(admin.get("/api/v1/patients", params=params), field)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "9999-12-25"])
def test_slot_search_dates_at_the_ends_of_the_calendar(admin, world, day):
    _is_422(admin.get("/api/v1/scheduling/slots", params={"visit_type_id": str(world.visit_id), "from_date": day}),
            "query.from_date")


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_day_list_and_closures_at_the_ends_of_the_calendar(admin, org, world, day):
    loc = str(org.loc_a.id)
    _is_422(admin.get("/api/v1/scheduling/appointments", params={"location_id": loc, "day": day, "days": 14}),
            "query.day")
    _is_422(admin.get(f"/api/v1/scheduling/locations/{loc}/closures", params={"since": day}), "query.since")
    _is_422(admin.post(f"/api/v1/scheduling/locations/{loc}/closures", json={"day": day}), "day")


def test_holidays_for_an_unknown_country_or_subdivision(admin, org):
    loc = str(org.loc_a.id)
    _is_422(admin.post(f"/api/v1/scheduling/locations/{loc}/closures/holidays",
                       json={"years": [2027], "country": "ZZ"}), "country")
    _is_422(admin.post(f"/api/v1/scheduling/locations/{loc}/closures/holidays",
                       json={"years": [2027], "country": "US", "subdiv": "QQ"}), "subdiv")
    assert admin.get(f"/api/v1/scheduling/locations/{loc}/closures").json() == []  # nothing written


@pytest.mark.parametrize("body_patch,field", [
    ({"effective_from": "9999-12-31"}, "effective_from"),
    ({"effective_from": "0001-01-01"}, "effective_from"),
    ({"effective_to": "9999-12-31"}, "effective_to"),
])
def test_template_dates_at_the_ends_of_the_calendar(admin, org, world, body_patch, field):
    body = {"provider_id": str(world.provider_id), "location_id": str(org.loc_a.id), "effective_from": "2030-01-01",
            "blocks": [{"weekday": 0, "start_minute": 540, "end_minute": 600}]}
    _is_422(admin.post("/api/v1/scheduling/templates", json={**body, **body_patch}), field)


@pytest.mark.parametrize("starts,ends,field", [
    ("9999-12-31T20:00:00+00:00", "9999-12-31T23:00:00+00:00", "starts_at"),
    ("0001-01-01T00:00:00+00:00", "0001-01-01T05:00:00+00:00", "starts_at"),
])
def test_exceptions_at_the_ends_of_the_calendar(admin, world, starts, ends, field):
    _is_422(admin.post("/api/v1/scheduling/exceptions", json={"provider_id": str(world.provider_id),
                                                              "starts_at": starts, "ends_at": ends}), field)


@pytest.mark.parametrize("start", ["9999-12-31T23:45:00+00:00", "0001-01-01T00:00:00+00:00"])
def test_booking_at_the_ends_of_the_calendar(admin, org, world, start):
    from tests.integration.scheduling.helpers import make_patient

    pid = make_patient(org)
    _is_422(admin.post("/api/v1/scheduling/appointments", json={
        "patient_id": str(pid), "provider_id": str(world.provider_id), "location_id": str(org.loc_a.id),
        "visit_type_id": str(world.visit_id), "start_at": start}), "start_at")


def test_audit_offset_beyond_64_bits(admin):
    _is_422(admin.get("/api/v1/audit", params={"offset": HUGE}), "query.offset")


def test_screens_and_services_refuse_the_same_dates(admin, org, world):
    """Screens reach the services without the API's schemas: the services hold the same bounds."""
    from praxis.patients.search import find_patients
    from praxis.platform.context import system_context
    from praxis.platform.errors import ValidationProblem
    from praxis.scheduling import service

    ctx = system_context(org.id)
    with pytest.raises(ValidationProblem) as exc:
        find_patients(ctx, q="smith", offset=2**70)
    assert exc.value.field == "offset"
    for day in ("9999-12-31", "0001-01-01"):
        with pytest.raises(ValidationProblem) as exc:
            service.search_slots(ctx, world.visit_id, from_date=date.fromisoformat(day))
        assert exc.value.field == "from_date"
        with pytest.raises(ValidationProblem) as exc:
            service.list_day(ctx, org.loc_a.id, date.fromisoformat(day), days=14)
        assert exc.value.field == "day"
        r = admin.get("/desk/day-sheet", params={"location_id": str(org.loc_a.id), "day": day})
        assert r.status_code == 422, r.status_code
