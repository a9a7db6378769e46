"""Builders of FHIR R4 resources from our records, as plain dicts (the hot path: no model classes).

Every builder takes duck-typed objects (attributes of the same names as our schemas) so this
package needs no domain import; tests validate the output with fhir.resources' R4B models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

MRN_SYSTEM = "urn:praxis:mrn"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
LOCATION_CODE_SYSTEM = "urn:praxis:location-code"

_GENDER = {"M": "male", "F": "female", "X": "other", "O": "other", "U": "unknown"}

# Our appointment statuses -> FHIR Appointment.status.
APPOINTMENT_STATUS = {
    "booked": "booked", "confirmed": "booked", "checked_in": "arrived", "roomed": "arrived",
    "checked_out": "fulfilled", "cancelled": "cancelled", "no_show": "noshow",
}
# FHIR Appointment.status -> ours (a search by FHIR status matches every status it covers).
APPOINTMENT_STATUS_FROM_FHIR: dict[str, tuple[str, ...]] = {}
for _ours, _theirs in APPOINTMENT_STATUS.items():
    APPOINTMENT_STATUS_FROM_FHIR.setdefault(_theirs, ())
    APPOINTMENT_STATUS_FROM_FHIR[_theirs] += (_ours,)


def instant(value: datetime) -> str:
    """A FHIR instant (always with its offset; our times are timezone-aware)."""
    return value.isoformat()


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def meta(last_updated: datetime | None = None, version: int | None = None) -> dict[str, Any] | None:
    m = _drop_empty({"versionId": str(version) if version is not None else None,
                     "lastUpdated": instant(last_updated) if last_updated else None})
    return m or None


def reference(kind: str, id_: Any, display: str | None = None) -> dict[str, Any]:
    return _drop_empty({"reference": f"{kind}/{id_}", "display": display})


def patient(p: Any) -> dict[str, Any]:
    """A Patient from a PatientOut-like object."""
    given = [x for x in (p.first_name, getattr(p, "middle_name", "")) if x]
    names = [_drop_empty({"use": "official", "family": p.last_name, "given": given,
                          "suffix": [p.suffix] if getattr(p, "suffix", "") else None})]
    if getattr(p, "preferred_name", ""):
        names.append({"use": "usual", "given": [p.preferred_name]})
    telecom = []
    for attr, use in (("phone_mobile", "mobile"), ("phone_home", "home"), ("phone_work", "work")):
        v = getattr(p, attr, None)
        if v:
            telecom.append({"system": "phone", "value": v, "use": use})
    if getattr(p, "email", None):
        telecom.append({"system": "email", "value": p.email})
    address = _drop_empty({
        "line": [x for x in (getattr(p, "address_line1", ""), getattr(p, "address_line2", "")) if x],
        "city": getattr(p, "city", ""), "state": getattr(p, "state", ""),
        "postalCode": getattr(p, "postal_code", ""), "country": getattr(p, "country", "")})
    out: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.id),
        "meta": meta(getattr(p, "updated_at", None)),
        "identifier": [{"use": "usual", "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": MRN_SYSTEM, "value": p.mrn}],
        "active": p.status == "active",
        "name": names,
        "telecom": telecom,
        "gender": _GENDER.get(p.sex, "unknown"),
        "birthDate": p.dob.isoformat(),
        "address": [address] if set(address) - {"country"} else None,
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": p.language}]}}]
        if getattr(p, "language", "") else None,
    }
    merged = getattr(p, "merged_into_id", None)
    if merged:
        out["link"] = [{"other": reference("Patient", merged), "type": "replaced-by"}]
    return _drop_empty(out)


def practitioner(p: Any) -> dict[str, Any]:
    """A Practitioner from a scheduling Provider-like object."""
    return _drop_empty({
        "resourceType": "Practitioner",
        "id": str(p.id),
        "identifier": [{"system": NPI_SYSTEM, "value": p.npi}] if p.npi else None,
        "active": bool(p.active),
        "name": [_drop_empty({"family": p.last_name, "given": [p.first_name],
                              "suffix": [p.credentials] if p.credentials else None})],
    })


def organization(o: Any) -> dict[str, Any]:
    return {"resourceType": "Organization", "id": str(o.id), "active": True, "name": o.name,
            "identifier": [{"system": "urn:praxis:organisation", "value": o.slug}]}


def location(loc: Any, org_id: Any) -> dict[str, Any]:
    address = _drop_empty({"line": [x for x in (loc.address_line1, loc.address_line2) if x], "city": loc.city,
                           "state": loc.state, "postalCode": loc.postal_code})
    identifiers = [{"system": LOCATION_CODE_SYSTEM, "value": loc.code}]
    if loc.npi:
        identifiers.append({"system": NPI_SYSTEM, "value": loc.npi})
    return _drop_empty({
        "resourceType": "Location",
        "id": str(loc.id),
        "identifier": identifiers,
        "status": "active" if loc.active else "inactive",
        "name": loc.name,
        "mode": "instance",
        "telecom": [{"system": "phone", "value": loc.phone}] if loc.phone else None,
        "address": address or None,
        "managingOrganization": reference("Organization", org_id),
    })


def appointment(a: Any) -> dict[str, Any]:
    """An Appointment from a scheduling Appointment-like object (with version when it has one)."""
    status = APPOINTMENT_STATUS.get(a.status, "booked")
    participants = [
        {"actor": reference("Patient", a.patient_id), "required": "required", "status": "accepted"},
        {"actor": reference("Practitioner", a.provider_id), "required": "required", "status": "accepted"},
        {"actor": reference("Location", a.location_id), "required": "required", "status": "accepted"},
    ]
    return _drop_empty({
        "resourceType": "Appointment",
        "id": str(a.id),
        "meta": meta(getattr(a, "updated_at", None), getattr(a, "version", None)),
        "status": status,
        "cancelationReason": {"text": a.cancel_reason} if getattr(a, "cancel_reason", None) else None,
        "appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": str(a.visit_type_id)}]},
        "description": getattr(a, "reason_for_visit", "") or None,
        "start": instant(a.start_at),
        "end": instant(a.end_at),
        "minutesDuration": int((a.end_at - a.start_at).total_seconds() // 60),
        "created": a.created_at.date().isoformat() if getattr(a, "created_at", None) else None,
        "participant": participants,
    })


def coverage(c: Any) -> dict[str, Any]:
    # Our relationship is the X12 individual relationship code (18 self, 01 spouse, 19 child).
    relationship = {"18": "self", "01": "spouse", "19": "child"}.get(c.relationship, "other")
    period = _drop_empty({"start": _d(c.effective_from), "end": _d(c.effective_to)})
    return _drop_empty({
        "resourceType": "Coverage",
        "id": str(c.id),
        "status": "active" if c.active else "cancelled",
        "subscriberId": c.member_id,
        "beneficiary": reference("Patient", c.patient_id),
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                     "code": relationship}]},
        "period": period or None,
        "payor": [{"identifier": {"system": "urn:praxis:payer", "value": str(c.payer_id)}}],
        "order": c.priority,
        "class": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                        "code": "group"}]}, "value": c.group_number}] if c.group_number else None,
    })


def _d(v: date | None) -> str | None:
    return v.isoformat() if v else None


def bundle_searchset(resources: Sequence[dict[str, Any]], *, base: str, self_url: str, next_url: str | None,
                     total: int | None = None, included: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """A searchset Bundle; `base` is the server base (…/fhir/R4) for each entry's fullUrl."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in resources]
    entries += [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "include"}}
                for r in included]
    return _drop_empty({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                        "entry": entries})


# FHIR issue codes by HTTP status (https://hl7.org/fhir/R4/valueset-issue-type.html).
_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               409: "conflict", 410: "deleted", 412: "conflict", 422: "processing", 428: "required",
               429: "throttled"}


def operation_outcome(status: int, detail: str, *, expression: str | None = None,
                      code: str | None = None) -> dict[str, Any]:
    """An OperationOutcome for an error; `expression` names the parameter or element at fault."""
    issue = _drop_empty({
        "severity": "error" if status < 500 else "fatal",
        "code": code or _ISSUE_CODE.get(status, "exception" if status >= 500 else "invalid"),
        "diagnostics": detail,
        "expression": [expression] if expression else None,
    })
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def capability_statement(*, base: str, software_version: str, date_: str,
                         resources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A CapabilityStatement; `resources` are rest.resource entries the facade derives from its routes."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date_,
        "kind": "instance",
        "software": {"name": "Praxis", "version": software_version},
        "implementation": {"description": "Praxis FHIR R4 facade", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}]}],
                "description": "Bearer tokens of API clients carrying SMART system scopes "
                               "(system/<Resource>.read|write), bound to one organisation.",
            },
            "resource": list(resources),
        }],
    }


# --- scheduling availability ----------------------------------------------------------------------

VISIT_TYPE_SYSTEM = "urn:praxis:visit-type"


def practitioner_role(provider: Any, location_ids: Sequence[Any]) -> dict[str, Any]:
    """One PractitionerRole per provider (same id): where they work and their specialties."""
    return _drop_empty({
        "resourceType": "PractitionerRole",
        "id": str(provider.id),
        "active": bool(provider.active),
        "practitioner": reference("Practitioner", provider.id),
        "location": [reference("Location", loc) for loc in location_ids],
        "specialty": [{"text": s} for s in (provider.specialties or []) if isinstance(s, str) and s],
    })


def schedule(schedule_id: str, provider: Any, location_id: Any) -> dict[str, Any]:
    """A provider's bookable time at one location."""
    return {"resourceType": "Schedule", "id": schedule_id, "active": bool(provider.active),
            "actor": [reference("Practitioner", provider.id), reference("Location", location_id)]}


def slot(slot_id: str, schedule_id: str, start: datetime, end: datetime, visit_type_id: Any) -> dict[str, Any]:
    """A free slot for one visit type (we publish free time only)."""
    return {"resourceType": "Slot", "id": slot_id, "schedule": reference("Schedule", schedule_id),
            "status": "free", "start": instant(start), "end": instant(end),
            "appointmentType": {"coding": [{"system": VISIT_TYPE_SYSTEM, "code": str(visit_type_id)}]}}


# --- intake ---------------------------------------------------------------------------------------

_QR_STATUS = {"open": "in-progress"}  # submitted, applied and rejected were all completed by the patient


def questionnaire_response_status(status: str) -> str:
    """QuestionnaireResponse.status of an intake submission's status."""
    return _QR_STATUS.get(status, "completed")


def _answer(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    return {"valueString": str(value)}


def questionnaire_response(sub: Any) -> dict[str, Any]:
    """A QuestionnaireResponse from an intake submission: one item per answered field (linkId = the
    field key), against the exact workflow version it was filled in (`urn:uuid:<version id>`)."""
    items = []
    for key, value in (sub.answers or {}).items():
        values = value if isinstance(value, list) else [value]
        answers = [_answer(v) for v in values if v is not None and v != ""]
        if answers:
            items.append({"linkId": str(key), "answer": answers})
    authored = sub.submitted_at or sub.created_at
    return _drop_empty({
        "resourceType": "QuestionnaireResponse",
        "id": str(sub.id),
        "questionnaire": f"urn:uuid:{sub.version_id}",
        "status": questionnaire_response_status(sub.status),
        "subject": reference("Patient", sub.patient_id),
        "authored": instant(authored) if authored else None,
        "item": items,
    })


# --- billing --------------------------------------------------------------------------------------

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
CLAIM_NUMBER_SYSTEM = "urn:praxis:claim-number"
PAYER_SYSTEM = "urn:praxis:payer"

# Our encounter statuses (billing's: open | billed | void) -> FHIR Encounter.status. A billing
# encounter is a visit that happened; void ones were entered in error or are not billable.
ENCOUNTER_STATUS = {"open": "finished", "billed": "finished", "void": "entered-in-error"}
# Every FHIR code is searchable; the ones we never produce match nothing.
ENCOUNTER_STATUS_FROM_FHIR: dict[str, tuple[str, ...]] = dict.fromkeys(
    ("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error",
     "unknown"), ())
for _ours, _theirs in ENCOUNTER_STATUS.items():
    ENCOUNTER_STATUS_FROM_FHIR.setdefault(_theirs, ())
    ENCOUNTER_STATUS_FROM_FHIR[_theirs] += (_ours,)

# Our claim statuses -> FHIR Claim.status (a FinancialResourceStatus: draft until it goes out,
# active while the payer has it or has decided, cancelled once voided or replaced).
CLAIM_STATUS = {
    "draft": "draft", "scrubbed": "draft", "ready": "draft", "submitted": "active", "accepted": "active",
    "rejected": "active", "paid": "active", "denied": "active", "corrected": "cancelled", "void": "cancelled",
}
CLAIM_STATUS_FROM_FHIR: dict[str, tuple[str, ...]] = dict.fromkeys(("active", "cancelled", "draft",
                                                                    "entered-in-error"), ())
for _ours, _theirs in CLAIM_STATUS.items():
    CLAIM_STATUS_FROM_FHIR.setdefault(_theirs, ())
    CLAIM_STATUS_FROM_FHIR[_theirs] += (_ours,)


def _money(cents: int) -> dict[str, Any]:
    return {"value": cents / 100, "currency": "USD"}


def _icd(code: str) -> dict[str, Any]:
    # We keep ICD-10-CM without its dot (as X12 does); FHIR's code system writes it with one.
    dotted = f"{code[:3]}.{code[3:]}" if len(code) > 3 and "." not in code else code
    return {"coding": [{"system": ICD10_SYSTEM, "code": dotted}]}


def encounter(e: Any) -> dict[str, Any]:
    """An Encounter from a billing encounter (an ambulatory visit on its date of service)."""
    day = e.date_of_service.isoformat()
    return _drop_empty({
        "resourceType": "Encounter",
        "id": str(e.id),
        "meta": meta(getattr(e, "updated_at", None), getattr(e, "version", None)),
        "identifier": [{"system": f"urn:praxis:ehr:{e.external_source}", "value": e.external_id}]
        if getattr(e, "external_source", None) and getattr(e, "external_id", None) else None,
        "status": ENCOUNTER_STATUS.get(e.status, "unknown"),
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB",
                  "display": "ambulatory"},
        "subject": reference("Patient", e.patient_id),
        "participant": [{"individual": reference("Practitioner", e.rendering_provider_id)}]
        if e.rendering_provider_id else None,
        "appointment": [reference("Appointment", e.appointment_id)] if e.appointment_id else None,
        "period": {"start": day, "end": day},
        "reasonCode": [_icd(c) for c in e.diagnoses or []] or None,
        "location": [{"location": reference("Location", e.location_id)}],
    })


def claim(c: Any, lines: Sequence[Any], org_id: Any) -> dict[str, Any]:
    """A professional Claim (837P) from a billing claim and its lines."""
    dx = list(c.diagnoses or [])
    items = []
    for ln in lines:
        items.append(_drop_empty({
            "sequence": ln.line_no,
            "diagnosisSequence": [int(p) for p in ln.dx_pointers or [] if 1 <= int(p) <= len(dx)] or None,
            "productOrService": {"coding": [{"system": CPT_SYSTEM, "code": ln.code}]},
            "modifier": [{"coding": [{"system": CPT_SYSTEM, "code": m}]} for m in ln.modifiers or []] or None,
            "servicedDate": ln.service_date.isoformat() if ln.service_date else None,
            "quantity": {"value": ln.units},
            "unitPrice": _money(ln.charge_cents // ln.units) if ln.units and ln.charge_cents % ln.units == 0
            else None,
            "net": _money(ln.charge_cents),
            "locationReference": reference("Location", c.location_id),
        }))
    created = getattr(c, "created_at", None)
    return _drop_empty({
        "resourceType": "Claim",
        "id": str(c.id),
        "meta": meta(getattr(c, "updated_at", None), getattr(c, "version", None)),
        "identifier": [{"system": CLAIM_NUMBER_SYSTEM, "value": c.claim_number}],
        "status": CLAIM_STATUS.get(c.status, "active"),
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "professional"}]},
        "use": "claim",
        "patient": reference("Patient", c.patient_id),
        "billablePeriod": {"start": c.date_of_service.isoformat(), "end": c.date_of_service.isoformat()},
        "created": instant(created) if created else c.date_of_service.isoformat(),
        "insurer": {"identifier": {"system": PAYER_SYSTEM, "value": str(c.payer_id)}},
        "provider": reference("Practitioner", c.rendering_provider_id) if c.rendering_provider_id
        else reference("Organization", org_id),
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                 "code": "normal"}]},
        "related": [{"claim": reference("Claim", c.original_claim_id),
                     "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/related-claim-relationship",
                                                  "code": "prior"}]}}] if c.original_claim_id else None,
        "diagnosis": [{"sequence": i, "diagnosisCodeableConcept": _icd(code)} for i, code in enumerate(dx, 1)]
        or None,
        "insurance": [_drop_empty({"sequence": 1, "focal": True, "coverage": reference("Coverage", c.coverage_id),
                                   "preAuthRef": [c.prior_auth] if c.prior_auth else None})],
        "item": items or None,
        "total": _money(c.total_charge_cents),
    })
