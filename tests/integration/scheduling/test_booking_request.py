"""The booking's one home (scheduling/booking.py): a request value object, one permission check per
booking, and the keyword delegates in service.py giving the same result."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, NotFound
from praxis.scheduling import booking, service
from praxis.scheduling.booking import BookingRequest

from .helpers import future_weekday, make_patient, make_world


@pytest.fixture
def world(org):
    return make_world(org)


def _request(world: Any, patient: Any, hour: int, **kw: Any) -> BookingRequest:
    return BookingRequest(patient, world.visit_id, world.provider_id, world.org.loc_a.id,
                          world.local(future_weekday(), hour), **kw)


@pytest.fixture
def permission_checks(monkeypatch) -> list[BookingRequest]:
    seen: list[BookingRequest] = []
    check = booking._authorise

    def counting(ctx: Context, request: BookingRequest) -> None:
        seen.append(request)
        check(ctx, request)

    monkeypatch.setattr(booking, "_authorise", counting)
    return seen


def test_a_request_is_a_value(world):
    r = _request(world, make_patient(world.org), 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.start_at = r.start_at  # type: ignore[misc]
    assert dataclasses.replace(r, overbook=True) == BookingRequest(
        r.patient_id, r.visit_type_id, r.provider_id, r.location_id, r.start_at, overbook=True)


def test_each_entry_point_checks_scheduling_book_once(world, permission_checks):
    p = make_patient(world.org)
    appt = booking.book(world.ctx, _request(world, p, 9))
    assert appt.status == "booked" and appt.source == "staff"
    assert len(permission_checks) == 1
    service.book(world.ctx, patient_id=p, visit_type_id=world.visit_id, provider_id=world.provider_id,
                 location_id=world.org.loc_a.id, start_at=world.local(future_weekday(), 10), source="api")
    assert len(permission_checks) == 2
    series = service.book_series(world.ctx, patient_id=p, visit_type_id=world.visit_id,
                                 provider_id=world.provider_id, location_id=world.org.loc_a.id,
                                 first_start_at=world.local(future_weekday(), 11), count=3)
    assert len(series) == 3 and len(permission_checks) == 3  # one check for the whole series


def test_the_permission_is_checked_before_anything_is_read(world):
    """The check comes first: the visit type below does not exist, so an answer about the visit
    type would mean the probe ran before the permission check."""
    import uuid

    request = dataclasses.replace(_request(world, make_patient(world.org), 9), visit_type_id=uuid.uuid4())

    def actor(permissions: dict[str, Any]) -> Context:
        return Context(org_id=world.org.id, actor_id=None, actor_type="user", actor_name="t", roles=(),
                       permissions=permissions)

    with pytest.raises(Forbidden):
        booking.book(actor({"scheduling:read": None}), request)
    with pytest.raises(NotFound) as elsewhere:
        booking.book(actor({"scheduling:book": frozenset({world.org.loc_b.id})}), request)
    assert elsewhere.value.detail == "No such location"
    with pytest.raises(NotFound) as missing:
        booking.book(world.ctx, request)
    assert missing.value.field == "visit_type_id"
