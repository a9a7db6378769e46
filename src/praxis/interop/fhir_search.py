"""FHIR search parameters, parsed once for the facade's search routes and for `$export`'s `_typeFilter`.

Each type's parser turns a query's parameters into criteria: the search route hands them to the
owning domain's search, and a bulk export applies the same criteria to its keyset reads, as a SQL
condition (Patient, Appointment, Encounter, Claim: the conditions the domain's search builds) or
as a test of each row read (the types whose search filters in Python). So a `_typeFilter` means
what the search with the same query means (docs/decisions.md 49). What only an interactive search
needs (paging, `_include`, "give a patient or a date") stays in the routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import ColumnElement, and_, false

from praxis.billing import records as billing_records
from praxis.formats.fhir import build
from praxis.patients import search as patient_search
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem
from praxis.scheduling import search as appointment_search
from praxis.scheduling import setup as scheduling_setup
from praxis.scheduling.permissions import SCHEDULING_READ

DEFAULT_COUNT = 20
MAX_COUNT = 100

# Search parameters each search route accepts (and the CapabilityStatement declares), with types.
SEARCH: dict[str, dict[str, str]] = {
    "Patient": {"name": "string", "family": "string", "given": "string", "birthdate": "date",
                "identifier": "token", "phone": "token"},
    "Practitioner": {"name": "string", "identifier": "token", "location": "reference"},
    "Organization": {},
    "Location": {"name": "string", "identifier": "token", "status": "token"},
    "Appointment": {"patient": "reference", "date": "date", "status": "token", "location": "reference",
                    "practitioner": "reference"},
    "Coverage": {"patient": "reference", "beneficiary": "reference", "status": "token"},
    "PractitionerRole": {"practitioner": "reference", "location": "reference"},
    "Schedule": {"actor": "reference", "active": "token"},
    "Slot": {"schedule": "reference", "start": "date", "appointment-type": "token", "status": "token"},
    "QuestionnaireResponse": {"patient": "reference", "subject": "reference", "status": "token"},
    "Encounter": {"patient": "reference", "subject": "reference", "date": "date", "status": "token",
                  "location": "reference"},
    "Claim": {"patient": "reference", "created": "date", "status": "token", "use": "token"},
}

# `_include` values each search accepts (and the CapabilityStatement declares).
INCLUDES: dict[str, set[str]] = {"Appointment": {"Appointment:patient", "Appointment:practitioner"}}


class Params:
    """The parameters of a search: known ones only, each parsed with errors naming it. `control`
    admits the paging parameters and `_include` (a route); a `_typeFilter` query has none."""

    CONTROL = frozenset({"_count", "_offset", "_format"})

    def __init__(self, resource: str, items: Iterable[tuple[str, str]], *, control: bool = True) -> None:
        allowed = set(SEARCH[resource])
        self.values: dict[str, str] = {}
        self.includes: list[str] = []
        for key, value in items:
            if key == "_include" and control:
                if value not in INCLUDES.get(resource, {}):
                    raise ValidationProblem(f"_include {value!r} is not supported here; supported: "
                                            f"{', '.join(sorted(INCLUDES.get(resource, {}))) or 'none'}",
                                            field="_include", status=400)
                self.includes.append(value)
                continue
            if key not in allowed and not (control and key in self.CONTROL):
                raise ValidationProblem(f"Unsupported search parameter {key!r}; supported: "
                                        f"{', '.join(sorted(allowed)) or 'none'}", field=key, status=400)
            if key in self.values:
                raise ValidationProblem(f"Parameter {key!r} given twice", field=key, status=400)
            self.values[key] = value
        self.count = self._int("_count", DEFAULT_COUNT, 1, MAX_COUNT)
        self.offset = self._int("_offset", 0, 0, 10_000_000)

    def _int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.values.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationProblem(f"{name} must be a whole number", field=name, status=400) from None
        if not lo <= value <= hi:
            raise ValidationProblem(f"{name} must be between {lo} and {hi}", field=name, status=400)
        return value

    def get(self, name: str) -> str | None:
        v = self.values.get(name)
        if v is not None and not v.strip():
            raise ValidationProblem(f"Parameter {name!r} is empty", field=name, status=400)
        return v.strip() if v is not None else None

    def ref_id(self, name: str, kind: str) -> uuid.UUID | None:
        """A reference parameter: `Kind/<id>` or a bare id."""
        raw = self.get(name)
        if raw is None:
            return None
        value = raw.removeprefix(f"{kind}/")
        try:
            return uuid.UUID(value)
        except ValueError:
            raise ValidationProblem(f"{name} must be a {kind} id or {kind}/<id>", field=name, status=400) from None

    def dates(self, name: str) -> tuple[datetime | None, datetime | None]:
        """A date parameter (`2026-12-07`, `ge2026-12-07`, `lt2026-12-08T09:00:00Z`) as a UTC range."""
        raw = self.get(name)
        if raw is None:
            return None, None
        prefix = raw[:2] if raw[:2] in ("eq", "ge", "gt", "le", "lt") else "eq"
        value = raw[2:] if raw[:2] == prefix else raw
        try:
            if "T" in value:
                start = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if start.tzinfo is None:
                    raise ValueError
                end = start + timedelta(seconds=1)
            else:
                d = date.fromisoformat(value)
                start = datetime.combine(d, time(), tzinfo=UTC)
                end = start + timedelta(days=1)
        except ValueError:
            raise ValidationProblem(f"{name} must be a date (YYYY-MM-DD) or a dateTime with its offset, "
                                    "optionally prefixed eq/ge/gt/le/lt", field=name, status=400) from None
        return {"eq": (start, end), "ge": (start, None), "gt": (end, None), "lt": (None, start),
                "le": (None, end)}[prefix]


def _statuses(p: Params, mapping: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A token list (`booked,fulfilled`) of FHIR codes as our statuses."""
    raw = p.get("status")
    if raw is None:
        return None
    out: list[str] = []
    for code in raw.split(","):
        if code not in mapping:
            raise ValidationProblem(f"status {code!r} is not one of {', '.join(sorted(mapping))}", field="status",
                                    status=400)
        out.extend(mapping[code])
    return out


def _day(value: datetime | None, *, up: bool) -> date | None:
    """A date-of-service bound from an instant bound (UTC): a partly covered day counts whole."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    d = value.date()
    return d + timedelta(days=1) if up and value.time() != time() else d


def _all(conditions: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(*conditions) if conditions else ~false()


# --- types searched in SQL ------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientQuery:
    """Patient search: name (any part, prefix), family, given, birthdate (a day, or a range with
    eq/ge/gt/le/lt), identifier (`urn:praxis:mrn|<mrn>` or a bare MRN), phone."""

    name: str | None
    family: str | None
    given: str | None
    dob_since: date | None
    dob_until: date | None
    phone: str | None
    mrn: str | None

    def criteria(self) -> dict[str, Any]:
        """Keyword arguments of `patients.search.find_patient_records`."""
        return {"q": self.name, "last": self.family, "first": self.given, "dob_since": self.dob_since,
                "dob_until": self.dob_until, "phone": self.phone, "mrn": self.mrn}

    def clause(self) -> ColumnElement[bool]:
        cond = patient_search.search_condition(**self.criteria())
        return false() if cond is None else cond


_BIRTHDATE = "birthdate must be a day (YYYY-MM-DD), optionally prefixed eq, ge, gt, le or lt"


def patient_query(p: Params) -> PatientQuery:
    dob_since = dob_until = None
    if (raw := p.get("birthdate")) is not None:
        prefix = raw[:2] if raw[:2] in ("eq", "ge", "gt", "le", "lt") else "eq"
        try:
            d = date.fromisoformat(raw[2:] if raw[:2] == prefix else raw)
        except ValueError:
            raise ValidationProblem(_BIRTHDATE, field="birthdate", status=400) from None
        nxt = d + timedelta(days=1)
        dob_since, dob_until = {"eq": (d, nxt), "ge": (d, None), "gt": (nxt, None), "lt": (None, d),
                                "le": (None, nxt)}[prefix]
    mrn = None
    if (raw := p.get("identifier")) is not None:
        system, bar, value = raw.rpartition("|")
        if bar and system and system != build.MRN_SYSTEM:
            raise ValidationProblem(f"identifier system must be {build.MRN_SYSTEM}", field="identifier", status=400)
        mrn = value
    return PatientQuery(name=p.get("name"), family=p.get("family"), given=p.get("given"), dob_since=dob_since,
                        dob_until=dob_until, phone=p.get("phone"), mrn=mrn)


@dataclass(frozen=True)
class AppointmentQuery:
    """Appointment search: patient, date (eq/ge/gt/le/lt), status (FHIR codes, comma-separated),
    location, practitioner."""

    patient_id: uuid.UUID | None
    since: datetime | None
    until: datetime | None
    location_id: uuid.UUID | None
    practitioner_id: uuid.UUID | None
    statuses: list[str] | None

    def criteria(self) -> dict[str, Any]:
        """Keyword arguments of `scheduling.search.find_appointments`."""
        return {"patient_id": self.patient_id, "location_ids": [self.location_id] if self.location_id else None,
                "since": self.since, "until": self.until, "provider_id": self.practitioner_id,
                "statuses": self.statuses}

    def clause(self) -> ColumnElement[bool]:
        return _all(appointment_search.conditions(**self.criteria()))


def appointment_query(p: Params) -> AppointmentQuery:
    since, until = p.dates("date")
    return AppointmentQuery(patient_id=p.ref_id("patient", "Patient"), since=since, until=until,
                            location_id=p.ref_id("location", "Location"),
                            practitioner_id=p.ref_id("practitioner", "Practitioner"),
                            statuses=_statuses(p, build.APPOINTMENT_STATUS_FROM_FHIR))


@dataclass(frozen=True)
class EncounterQuery:
    """Encounter search: patient (or subject), date (of service; eq/ge/gt/le/lt), status (FHIR
    codes, comma-separated), location."""

    patient_id: uuid.UUID | None
    since: date | None
    until: date | None
    statuses: list[str] | None
    location_id: uuid.UUID | None

    def criteria(self) -> dict[str, Any]:
        """Keyword arguments of `billing.records.find_encounters`."""
        return {"patient_id": self.patient_id, "since": self.since, "until": self.until, "statuses": self.statuses,
                "location_ids": [self.location_id] if self.location_id else None}

    def clause(self) -> ColumnElement[bool]:
        return _all(billing_records.encounter_conditions(**self.criteria()))


def encounter_query(p: Params) -> EncounterQuery:
    patient_id = p.ref_id("patient", "Patient") or p.ref_id("subject", "Patient")
    since, until = p.dates("date")
    return EncounterQuery(patient_id=patient_id, since=_day(since, up=False), until=_day(until, up=True),
                          statuses=_statuses(p, build.ENCOUNTER_STATUS_FROM_FHIR),
                          location_id=p.ref_id("location", "Location"))


@dataclass(frozen=True)
class ClaimQuery:
    """Claim search: patient, created (eq/ge/gt/le/lt), status (FHIR codes, comma-separated), use
    (claim only: we make no preauthorizations or predeterminations, so the others match nothing)."""

    patient_id: uuid.UUID | None
    created_since: datetime | None
    created_until: datetime | None
    statuses: list[str] | None
    none: bool  # a `use` we never produce

    def criteria(self) -> dict[str, Any]:
        """Keyword arguments of `billing.records.find_claims`."""
        return {"patient_id": self.patient_id, "created_since": self.created_since,
                "created_until": self.created_until, "statuses": self.statuses}

    def clause(self) -> ColumnElement[bool]:
        return false() if self.none else _all(billing_records.claim_conditions(**self.criteria()))


def claim_query(p: Params) -> ClaimQuery:
    since, until = p.dates("created")
    use = p.get("use")
    if use not in (None, "claim", "preauthorization", "predetermination"):
        raise ValidationProblem("use must be claim, preauthorization or predetermination", field="use", status=400)
    return ClaimQuery(patient_id=p.ref_id("patient", "Patient"), created_since=since, created_until=until,
                      statuses=_statuses(p, build.CLAIM_STATUS_FROM_FHIR), none=use not in (None, "claim"))


# --- types searched in Python (small sets, or one patient's) ----------------------------------------


@dataclass(frozen=True)
class CoverageQuery:
    """Coverage search: patient or beneficiary, status (active | cancelled). `match` takes a
    coverage row."""

    patient_id: uuid.UUID | None
    status: str | None

    def match(self, c: Any) -> bool:
        return ((self.patient_id is None or c.patient_id == self.patient_id)
                and (self.status is None or bool(c.active) == (self.status == "active")))


def coverage_query(p: Params) -> CoverageQuery:
    status = p.get("status")
    if status not in (None, "active", "cancelled"):
        raise ValidationProblem("status must be active or cancelled", field="status", status=400)
    return CoverageQuery(patient_id=p.ref_id("patient", "Patient") or p.ref_id("beneficiary", "Patient"),
                         status=status)


@dataclass(frozen=True)
class QuestionnaireResponseQuery:
    """QuestionnaireResponse search: patient or subject, status (in-progress | completed). `match`
    takes an intake submission."""

    patient_id: uuid.UUID | None
    status: str | None

    def match(self, s: Any) -> bool:
        return ((self.patient_id is None or s.patient_id == self.patient_id)
                and (self.status is None or build.questionnaire_response_status(s.status) == self.status))


def questionnaire_response_query(p: Params) -> QuestionnaireResponseQuery:
    status = p.get("status")
    if status not in (None, "in-progress", "completed"):
        raise ValidationProblem("status must be in-progress or completed", field="status", status=400)
    return QuestionnaireResponseQuery(patient_id=p.ref_id("patient", "Patient") or p.ref_id("subject", "Patient"),
                                      status=status)


@dataclass(frozen=True)
class PractitionerQuery:
    """Practitioner search: name (prefix of first or last name), identifier (NPI), location.
    `match` takes (provider, its location ids)."""

    name: str | None
    npi: str | None
    location_id: uuid.UUID | None

    def match(self, row: tuple[Any, Sequence[uuid.UUID]]) -> bool:
        prov, locs = row
        return ((self.name is None or any(x.lower().startswith(self.name.lower())
                                          for x in (prov.first_name, prov.last_name)))
                and (self.npi is None or prov.npi == self.npi)
                and (self.location_id is None or self.location_id in locs))


def practitioner_query(p: Params) -> PractitionerQuery:
    ident = p.get("identifier")
    return PractitionerQuery(name=p.get("name"), npi=ident.rpartition("|")[2] if ident is not None else None,
                             location_id=p.ref_id("location", "Location"))


@dataclass(frozen=True)
class LocationQuery:
    """Location search: name (prefix), identifier (location code or NPI), status (active, the
    default, or inactive). `match` takes a location."""

    name: str | None
    identifier: str | None
    status: str | None

    def match(self, loc: Any) -> bool:
        return (bool(loc.active) == (self.status != "inactive")
                and (self.name is None or loc.name.lower().startswith(self.name.lower()))
                and (self.identifier is None or self.identifier in (loc.code, loc.npi)))


def location_query(p: Params) -> LocationQuery:
    status = p.get("status")
    if status not in (None, "active", "inactive"):
        raise ValidationProblem("status must be active or inactive", field="status", status=400)
    ident = p.get("identifier")
    return LocationQuery(name=p.get("name"), identifier=ident.rpartition("|")[2] if ident is not None else None,
                         status=status)


@dataclass(frozen=True)
class PractitionerRoleQuery:
    """PractitionerRole search: practitioner, location. `match` takes (provider, its visible
    location ids)."""

    practitioner_id: uuid.UUID | None
    location_id: uuid.UUID | None

    def match(self, row: tuple[Any, Sequence[uuid.UUID]]) -> bool:
        prov, locs = row
        return ((self.practitioner_id is None or prov.id == self.practitioner_id)
                and (self.location_id is None or self.location_id in locs))


def practitioner_role_query(p: Params) -> PractitionerRoleQuery:
    return PractitionerRoleQuery(practitioner_id=p.ref_id("practitioner", "Practitioner"),
                                 location_id=p.ref_id("location", "Location"))


@dataclass(frozen=True)
class ScheduleQuery:
    """Schedule search: actor (Practitioner/<id> or Location/<id>), active. `match` takes
    (schedule id, (provider, location id))."""

    actor_kind: str | None
    actor_id: str | None
    active: bool | None

    def match(self, row: tuple[str, tuple[Any, uuid.UUID]]) -> bool:
        _sid, (prov, loc) = row
        if self.actor_kind is not None and self.actor_id != str(prov.id if self.actor_kind == "Practitioner" else loc):
            return False
        return self.active is None or bool(prov.active) == self.active


def schedule_query(p: Params) -> ScheduleQuery:
    kind = raw = None
    if (actor := p.get("actor")) is not None:
        kind, _, raw = actor.partition("/")
        if kind not in ("Practitioner", "Location") or not raw:
            raise ValidationProblem("actor must be Practitioner/<id> or Location/<id>", field="actor", status=400)
    active = p.get("active")
    if active not in (None, "true", "false"):
        raise ValidationProblem("active must be true or false", field="active", status=400)
    return ScheduleQuery(actor_kind=kind, actor_id=raw, active=None if active is None else active == "true")


# --- what the PractitionerRole and Schedule searches read -------------------------------------------

_NS = uuid.UUID("5c3c1d0e-2f61-4b8e-a7a4-9d7b1f3e0c42")


def schedule_id(provider_id: uuid.UUID, location_id: uuid.UUID) -> str:
    """A Schedule's id: a name-based UUID of the provider and location pair it stands for."""
    return str(uuid.uuid5(_NS, f"{provider_id}:{location_id}"))


def visible_providers(ctx: Context, location_id: uuid.UUID | None = None) -> list[tuple[Any, list[uuid.UUID]]]:
    """Providers (inactive ones too) with the locations of theirs the caller may see."""
    scope_ = ctx.scope(SCHEDULING_READ)
    return [(p, [loc for loc in locs if scope_ is None or loc in scope_])
            for p, locs in scheduling_setup.list_providers(ctx, location_id=location_id, active_only=False)]


def schedules(ctx: Context) -> dict[str, tuple[Any, uuid.UUID]]:
    """Schedule id -> (provider, location) for every pair the caller may see."""
    return {schedule_id(provider.id, loc): (provider, loc) for provider, locs in visible_providers(ctx)
            for loc in locs}


def sorted_schedules(ctx: Context) -> list[tuple[str, tuple[Any, uuid.UUID]]]:
    """`schedules` in the Schedule search's order (provider name, then id)."""
    return sorted(schedules(ctx).items(), key=lambda kv: (kv[1][0].last_name, kv[1][0].first_name, kv[0]))


# --- `_typeFilter` --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeFilter:
    """One `_typeFilter` query compiled: a SQL condition on the type's rows, or a test of a row."""

    query: str
    clause: ColumnElement[bool] | None = None
    match: Callable[[Any], bool] | None = None


_SQL: dict[str, Callable[[Params], Any]] = {"Patient": patient_query, "Appointment": appointment_query,
                                            "Encounter": encounter_query, "Claim": claim_query}
_ROWS: dict[str, Callable[[Params], Any]] = {
    "Coverage": coverage_query, "QuestionnaireResponse": questionnaire_response_query,
    "Practitioner": practitioner_query, "Location": location_query, "PractitionerRole": practitioner_role_query,
    "Schedule": schedule_query,
}


def type_filter(kind: str, query: str) -> TypeFilter:
    """Compile `query` (the part after `Type?`, still URL-encoded) with `kind`'s search parameters.
    Every error is a 400 on `_typeFilter` whose text names the filter and the parameter."""
    try:
        items = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ValidationProblem(f"_typeFilter {kind}?{query}: not a query string", field="_typeFilter",
                                status=400) from None
    if not items:
        raise ValidationProblem(f"_typeFilter {kind}? names no search parameter", field="_typeFilter", status=400)
    try:
        p = Params(kind, items, control=False)
        if kind in _SQL:
            return TypeFilter(query, clause=_SQL[kind](p).clause())
        if kind in _ROWS:
            return TypeFilter(query, match=_ROWS[kind](p).match)
        return TypeFilter(query, match=lambda _row: True)  # Organization: no parameters, never reached
    except ValidationProblem as exc:
        raise ValidationProblem(f"_typeFilter {kind}?{query}: {exc.detail}", field="_typeFilter",
                                status=400) from None
