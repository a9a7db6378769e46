"""FHIR create and update for Patient and Appointment, through the owning domains' services.

Booking goes through `scheduling.service.book` (its rules, its locks, its 409); registration
through `patients.service.register_patient` (its duplicate check answers 409 too). Conditional
create (`If-None-Exist`) runs the same search the search routes run; `If-Match` is honoured where
the domain keeps a version (Appointment) and refused where it does not (Patient).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Body, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from praxis.formats.fhir import build, read
from praxis.interop.api.fhir import (
    CONDITIONAL_CREATE,
    SEARCH,
    UPDATE_IF_MATCH,
    appointment_headers,
    base_url,
    fhir_response,
    parse_id,
    router,
    scope,
)
from praxis.patients import search as patient_search
from praxis.patients import service as patients
from praxis.patients.schemas import PatientCreate, PatientUpdate
from praxis.platform.context import Context
from praxis.platform.errors import Conflict, ValidationProblem
from praxis.scheduling import search as appointment_search
from praxis.scheduling import service as scheduling

CONDITIONAL_CREATE.update({"Patient", "Appointment"})
UPDATE_IF_MATCH.add("Appointment")

# Demographics a FHIR Patient carries; an update replaces exactly these (FHIR update is a
# replacement), leaving what FHIR does not carry (consents, guarantor, emergency contact) alone.
_PATIENT_REPLACED: dict[str, Any] = {
    "middle_name": "", "suffix": "", "preferred_name": "", "sex": "U", "phone_mobile": None, "phone_home": None,
    "phone_work": None, "email": None, "address_line1": "", "address_line2": "", "city": "", "state": "",
    "postal_code": "",
}


def _input_error(exc: read.FhirInputError) -> ValidationProblem:
    return ValidationProblem(str(exc), field=exc.expression, status=400)


def _refused(exc: ValidationError, where: dict[str, str], kind: str) -> ValidationProblem:
    """A domain schema's refusal, naming the FHIR element the offending field came from."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err.get("loc") else ""
    return ValidationProblem(f"{where.get(field, field)}: {err['msg']}", field=where.get(field, f"{kind}.{field}"))


def _condition(request: Request, resource: str) -> dict[str, str] | None:
    raw = request.headers.get("if-none-exist")
    if raw is None:
        return None
    pairs = parse_qsl(raw.removeprefix("?"), keep_blank_values=True)
    unknown = [k for k, _ in pairs if k not in SEARCH[resource]]
    if not pairs or unknown:
        raise ValidationProblem(f"If-None-Exist must be a query of {resource} search parameters "
                                f"({', '.join(sorted(SEARCH[resource]))})", field="If-None-Exist", status=400)
    return dict(pairs)


def _existing(request: Request, kind: str, matches: list[Any], to_fhir: Any) -> Response | None:
    if not matches:
        return None
    if len(matches) > 1:
        raise Conflict("If-None-Exist matches more than one resource", field="If-None-Exist", status=412,
                       type="precondition-failed")
    resource = to_fhir(matches[0])
    return fhir_response(resource, 200, {"Location": f"{base_url(request)}/{kind}/{resource['id']}",
                                         **appointment_headers(resource)})


# --- Patient ----------------------------------------------------------------------------------


@router.post("/Patient", status_code=201)
def create_patient(request: Request, body: Any = Body(...), ctx: Context = Depends(scope("Patient", "write"))
                   ) -> Response:
    """Register a patient (our MRN is assigned; the duplicate check answers 409)."""
    if (cond := _condition(request, "Patient")) is not None:
        system, bar, value = cond.get("identifier", "").rpartition("|")
        if bar and system != build.MRN_SYSTEM:
            raise ValidationProblem(f"identifier system must be {build.MRN_SYSTEM}", field="If-None-Exist",
                                    status=400)
        found = patient_search.find_patient_records(ctx, q=cond.get("name"), last=cond.get("family"),
                                                    first=cond.get("given"), dob=_day(cond.get("birthdate")),
                                                    phone=cond.get("phone"), mrn=value or None, limit=2)
        if (hit := _existing(request, "Patient", found, build.patient)) is not None:
            return hit
    try:
        fields, where = read.patient(body)
        data = PatientCreate.model_validate(fields)
    except read.FhirInputError as exc:
        raise _input_error(exc) from None
    except ValidationError as exc:
        raise _refused(exc, where, "Patient") from None
    resource = build.patient(patients.register_patient(ctx, data))
    return fhir_response(resource, 201, {"Location": f"{base_url(request)}/Patient/{resource['id']}"})


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.removeprefix("eq"))
    except ValueError:
        raise ValidationProblem("birthdate must be a day (YYYY-MM-DD)", field="If-None-Exist", status=400) from None


@router.put("/Patient/{patient_id}")
def update_patient(patient_id: str, request: Request, body: Any = Body(...),
                   ctx: Context = Depends(scope("Patient", "write"))) -> Response:
    """Replace the demographics a FHIR Patient carries (no update-as-create)."""
    if request.headers.get("if-match") is not None:
        raise ValidationProblem("Patient records carry no version here, so If-Match cannot be honoured; "
                                "send the update without it", field="If-Match", status=400)
    pid = parse_id(patient_id, "patient")
    try:
        if not isinstance(body, dict) or body.get("id") != patient_id:
            raise read.FhirInputError("Patient.id must equal the id in the URL", "Patient.id")
        fields, where = read.patient(body)
        data = PatientUpdate.model_validate({**_PATIENT_REPLACED, **fields})
    except (read.FhirInputError, ValidationError) as exc:
        # Another organisation's (or a missing) patient answers 404 whatever the body says.
        patients.get_patient(ctx, pid)
        if isinstance(exc, read.FhirInputError):
            raise _input_error(exc) from None
        raise _refused(exc, where, "Patient") from None
    return fhir_response(build.patient(patients.update_patient(ctx, pid, data)))


# --- Appointment ------------------------------------------------------------------------------


def _uuid(value: str, path: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationProblem(f"{path} is not one of our ids", field=path) from None


@router.post("/Appointment", status_code=201)
def create_appointment(request: Request, body: Any = Body(...),
                       ctx: Context = Depends(scope("Appointment", "write"))) -> Response:
    """Book an appointment through the scheduling service (409 when the time is taken)."""
    try:
        wanted = read.appointment(body)
    except read.FhirInputError as exc:
        raise _input_error(exc) from None
    if wanted["status"] != "booked":
        raise ValidationProblem("Only status booked can be created", field="Appointment.status")
    patient_id = _uuid(*wanted["patient"])
    if wanted["slot"] is not None:
        _from_slot(ctx, wanted)
    if (cond := _condition(request, "Appointment")) is not None:
        unsupported = set(cond) - {"patient", "date"}
        if unsupported:
            raise ValidationProblem("If-None-Exist on Appointment takes patient and date",
                                    field="If-None-Exist", status=400)
        cond_patient = _uuid(cond.get("patient", str(patient_id)).removeprefix("Patient/"), "If-None-Exist")
        start = wanted["start"]
        found = appointment_search.find_appointments(
            ctx, patient_id=cond_patient, since=start if "date" in cond else None,
            until=start + timedelta(seconds=1) if "date" in cond else None,
            statuses=[s for s in build.APPOINTMENT_STATUS if s != "cancelled"], limit=2)
        if (hit := _existing(request, "Appointment", found, build.appointment)) is not None:
            return hit
    appt = scheduling.book(ctx, patient_id=patient_id, visit_type_id=_uuid(wanted["visit_type"],
                                                                          "Appointment.appointmentType"),
                           provider_id=_uuid(*wanted["practitioner"]), location_id=_uuid(*wanted["location"]),
                           start_at=wanted["start"], reason_for_visit=wanted["description"][:200], source="api")
    resource = build.appointment(appt)
    return fhir_response(resource, 201, {"Location": f"{base_url(request)}/Appointment/{resource['id']}",
                                         **appointment_headers(resource)})


def _from_slot(ctx: Context, wanted: dict[str, Any]) -> None:
    """Fill provider, location, visit type and start from the Slot; what the body also says must agree."""
    from praxis.interop.api.fhir_slots import resolve_slot

    provider, location, visit_type, start = resolve_slot(ctx, wanted["slot"])
    for key, value, path in (("practitioner", provider, "Appointment.participant"),
                             ("location", location, "Appointment.participant")):
        given = wanted[key]
        if given is not None and given[0] != str(value):
            raise ValidationProblem(f"The {key} differs from the Slot's", field=given[1])
        wanted[key] = (str(value), given[1] if given else path)
    if wanted["visit_type"] not in (None, str(visit_type)):
        raise ValidationProblem("appointmentType differs from the Slot's", field="Appointment.appointmentType")
    if wanted["start"] is not None and wanted["start"] != start:
        raise ValidationProblem("start differs from the Slot's", field="Appointment.start")
    wanted["visit_type"], wanted["start"] = str(visit_type), start


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ValidationProblem('If-Match must be W/"<versionId>"', field="If-Match", status=400)
    return int(value)


@router.put("/Appointment/{appointment_id}")
def update_appointment(appointment_id: str, request: Request, body: Any = Body(...),
                       ctx: Context = Depends(scope("Appointment", "write"))) -> Response:
    """Cancel (status cancelled with cancelationReason.text) or move (start, practitioner,
    location) an appointment; `If-Match: W/"<versionId>"` answers 412 when it changed meanwhile.
    Reading the current appointment needs system/Appointment.read besides the write scope."""
    aid = parse_id(appointment_id, "appointment")
    current = scheduling.get_appointment(ctx, aid)  # first: a foreign id answers 404 whatever the body
    expected = _if_match(request)
    if not isinstance(body, dict) or body.get("id") != appointment_id:
        raise ValidationProblem("Appointment.id must equal the id in the URL", field="Appointment.id", status=400)
    try:
        wanted = read.appointment(body)
    except read.FhirInputError as exc:
        raise _input_error(exc) from None
    for key, path in (("practitioner", "Appointment.participant"), ("location", "Appointment.participant"),
                      ("start", "Appointment.start"), ("visit_type", "Appointment.appointmentType")):
        if wanted[key] is None:
            raise ValidationProblem(f"An update gives the whole Appointment: {path} is missing", field=path,
                                    status=400)
    if str(current.patient_id) != wanted["patient"][0]:
        raise ValidationProblem("The patient of an appointment cannot change; cancel it and book anew",
                                field=wanted["patient"][1])
    if str(current.visit_type_id) != wanted["visit_type"]:
        raise ValidationProblem("The visit type of an appointment cannot change; cancel it and book anew",
                                field="Appointment.appointmentType")
    ours = build.APPOINTMENT_STATUS.get(current.status)
    if wanted["status"] == "cancelled" and ours != "cancelled":
        if not wanted["cancel_reason"].strip():
            raise ValidationProblem("Give the reason in cancelationReason.text", field="Appointment.cancelationReason")
        appt = scheduling.cancel(ctx, aid, reason=wanted["cancel_reason"], expected_version=expected)
    elif wanted["status"] != ours:
        raise ValidationProblem(f"Changing status from {ours} to {wanted['status']} is not supported through FHIR "
                                "(only cancelled)", field="Appointment.status")
    else:
        provider = _uuid(*wanted["practitioner"])
        location = _uuid(*wanted["location"])
        if (wanted["start"], provider, location) == (current.start_at, current.provider_id, current.location_id):
            if expected is not None and expected != current.version:
                raise Conflict(f"The appointment is at version {current.version}, not {expected}",
                               field="If-Match", status=412, type="precondition-failed")
            appt = current  # nothing we keep changed
        else:
            appt = scheduling.reschedule(ctx, aid, start_at=wanted["start"], provider_id=provider,
                                         location_id=location, expected_version=expected)
    resource = build.appointment(appt)
    return fhir_response(resource, headers=appointment_headers(resource))
