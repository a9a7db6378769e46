"""FHIR PractitionerRole, Schedule and Slot over scheduling's providers and slot search.

A Schedule is one provider at one location; a Slot is a free start for one visit type. Neither is
a row of ours, so their ids encode what they stand for: a Schedule id is a name-based UUID of the
provider and location pair (looked up among the caller's visible pairs), a Slot id packs the
schedule, the visit type and the start (58 characters of base32, within FHIR's 64). Only free slots are
published; an Appointment POSTed with `slot` books that slot through the scheduling service.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from praxis.formats.fhir import build
from praxis.interop import fhir_search
from praxis.interop.api.fhir import Params, fhir_response, parse_id, router, scope, searchset
from praxis.interop.fhir_search import schedule_id, schedules, sorted_schedules, visible_providers
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import NotFound, ValidationProblem
from praxis.scheduling import service as scheduling

DEFAULT_DAYS = 14


def slot_id(schedule: str, visit_type_id: uuid.UUID, start: datetime) -> str:
    minutes = int(start.timestamp() // 60)
    raw = uuid.UUID(schedule).bytes + visit_type_id.bytes + minutes.to_bytes(4, "big")
    return base64.b32encode(raw).decode().rstrip("=").lower()  # FHIR ids allow [A-Za-z0-9-.] only


def resolve_slot(ctx: Context, value: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime]:
    """(provider, location, visit type, start) of a Slot id; 404 when it is not one of the caller's."""
    try:
        raw = base64.b32decode(value.upper() + "=" * (-len(value) % 8))
    except (binascii.Error, ValueError):
        raise NotFound("No such slot") from None
    if len(raw) != 36:
        raise NotFound("No such slot")
    pair = schedules(ctx).get(str(uuid.UUID(bytes=raw[:16])))
    if pair is None:
        raise NotFound("No such slot")
    start = datetime.fromtimestamp(int.from_bytes(raw[32:], "big") * 60, UTC)
    return pair[0].id, pair[1], uuid.UUID(bytes=raw[16:32]), start


# --- PractitionerRole -------------------------------------------------------------------------------


@router.get("/PractitionerRole/{practitioner_role_id}")
def read_practitioner_role(practitioner_role_id: str, ctx: Context = Depends(scope("PractitionerRole", "read"))
                           ) -> Response:
    rid = parse_id(practitioner_role_id, "practitioner role")
    for provider, locs in visible_providers(ctx):
        if provider.id == rid:
            return fhir_response(build.practitioner_role(provider, locs))
    raise NotFound("No such practitioner role")


@router.get("/PractitionerRole")
def search_practitioner_role(request: Request, ctx: Context = Depends(scope("PractitionerRole", "read"))
                             ) -> Response:
    """Roles of providers: practitioner, location."""
    p = Params(request, "PractitionerRole")
    q = fhir_search.practitioner_role_query(p)
    rows = [r for r in visible_providers(ctx, q.location_id) if q.match(r)]
    return searchset(request, p, rows[p.offset:p.offset + p.count + 1], lambda r: build.practitioner_role(*r))


# --- Schedule ---------------------------------------------------------------------------------------


@router.get("/Schedule/{schedule_id}")
def read_schedule(schedule_id: str, ctx: Context = Depends(scope("Schedule", "read"))) -> Response:
    pair = schedules(ctx).get(schedule_id)
    if pair is None:
        raise NotFound("No such schedule")
    return fhir_response(build.schedule(schedule_id, *pair))


@router.get("/Schedule")
def search_schedule(request: Request, ctx: Context = Depends(scope("Schedule", "read"))) -> Response:
    """Schedules: actor (Practitioner/<id> or Location/<id>), active."""
    p = Params(request, "Schedule")
    q = fhir_search.schedule_query(p)
    rows = [r for r in sorted_schedules(ctx) if q.match(r)]
    return searchset(request, p, rows[p.offset:p.offset + p.count + 1],
                     lambda r: build.schedule(r[0], *r[1]))


# --- Slot -------------------------------------------------------------------------------------------


@router.get("/Slot/{slot}")
def read_slot(slot: str, ctx: Context = Depends(scope("Slot", "read"))) -> Response:
    """A slot, while it is still free (a taken or past one answers 404)."""
    provider, location, visit_type, start = resolve_slot(ctx, slot)
    for s in _free(ctx, visit_type, provider, location, start, start + timedelta(minutes=1), 1):
        return fhir_response(_slot(s))
    raise NotFound("No such slot (taken, past or no longer offered)")


def _free(ctx: Context, visit_type: uuid.UUID, provider: uuid.UUID | None, location: uuid.UUID | None,
          since: datetime, until: datetime | None, limit: int) -> list[Any]:
    first = (since - timedelta(days=1)).date()  # a local day may begin before the UTC one
    days = min(scheduling.MAX_SEARCH_DAYS, ((until.date() - first).days + 2) if until else DEFAULT_DAYS)
    rows = scheduling.search_slots(ctx, visit_type, from_date=first, days=days,
                                   provider_ids=[provider] if provider else None,
                                   location_ids=[location] if location else None, limit=min(limit + 200, 1000))
    return [s for s in rows if s.start_at >= since and (until is None or s.start_at < until)][:limit]


def _slot(s: Any) -> dict[str, Any]:
    sched = schedule_id(s.provider_id, s.location_id)
    return build.slot(slot_id(sched, s.visit_type_id, s.start_at), sched, s.start_at, s.end_at, s.visit_type_id)


@router.get("/Slot")
def search_slot(request: Request, ctx: Context = Depends(scope("Slot", "read"))) -> Response:
    """Free slots: appointment-type (our visit type id; required), schedule, start (ge/gt/le/lt;
    default the next 14 days), status (free only)."""
    p = Params(request, "Slot")
    raw_type = p.get("appointment-type")
    if raw_type is None:
        raise ValidationProblem("Give appointment-type (urn:praxis:visit-type|<visit type id>)",
                                field="appointment-type", status=400)
    system, bar, code = raw_type.rpartition("|")
    if bar and system != build.VISIT_TYPE_SYSTEM:
        raise ValidationProblem(f"appointment-type system must be {build.VISIT_TYPE_SYSTEM}",
                                field="appointment-type", status=400)
    try:
        visit_type = uuid.UUID(code)
    except ValueError:
        raise ValidationProblem("appointment-type must be a visit type id", field="appointment-type",
                                status=400) from None
    if p.get("status") not in (None, "free"):
        raise ValidationProblem("Only free slots are published (status=free)", field="status", status=400)
    provider = location = None
    if (sched := p.get("schedule")) is not None:
        pair = schedules(ctx).get(sched.removeprefix("Schedule/"))
        if pair is None:
            return searchset(request, p, [], _slot)
        provider, location = pair[0].id, pair[1]
    since, until = p.dates("start")
    since = max(since or now(), now())
    if until is not None and until - since > timedelta(days=scheduling.MAX_SEARCH_DAYS - 2):
        raise ValidationProblem(f"start covers at most {scheduling.MAX_SEARCH_DAYS - 2} days", field="start",
                                status=400)
    rows = _free(ctx, visit_type, provider, location, since, until, p.offset + p.count + 1)
    return searchset(request, p, rows[p.offset:], _slot)
