"""Readers of incoming FHIR R4 resources into our field names (plain dicts, no validation of ours).

Each reader returns the fields and, for each field, the FHIR element it came from, so that a
refusal by the owning domain (`state` is not a US state) can name the element the sender wrote
(`Patient.address[0].state`). Structural problems raise FhirInputError naming the element.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

_SEX = {"male": "M", "female": "F", "other": "X", "unknown": "U"}


class FhirInputError(ValueError):
    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


def _expect(resource: Any, kind: str) -> dict[str, Any]:
    if not isinstance(resource, dict):
        raise FhirInputError(f"The body must be a {kind} resource (JSON object)", kind)
    if resource.get("resourceType") != kind:
        raise FhirInputError(f"resourceType must be {kind}", f"{kind}.resourceType")
    return resource


def _list(resource: dict[str, Any], key: str, path: str) -> list[Any]:
    value = resource.get(key, [])
    if not isinstance(value, list):
        raise FhirInputError(f"{path} must be an array", path)
    return value


def patient(resource: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Our patient fields from a FHIR Patient, and field -> FHIR element it came from."""
    r = _expect(resource, "Patient")
    fields: dict[str, Any] = {}
    where: dict[str, str] = {}

    def put(field: str, value: Any, path: str) -> None:
        fields[field] = value
        where[field] = path

    names = _list(r, "name", "Patient.name")
    official = next((i for i, n in enumerate(names) if isinstance(n, dict) and n.get("use") == "official"), None)
    if official is None:
        official = next((i for i, n in enumerate(names) if isinstance(n, dict)
                         and n.get("use") not in ("old", "maiden", "nickname", "usual")), None)
    if official is None:
        raise FhirInputError("Patient.name needs an official name with family and given", "Patient.name")
    n = names[official]
    path = f"Patient.name[{official}]"
    given = [g for g in n.get("given", []) if isinstance(g, str)]
    if not n.get("family") or not given:
        raise FhirInputError(f"{path} needs family and given", path)
    put("last_name", n["family"], f"{path}.family")
    put("first_name", given[0], f"{path}.given[0]")
    put("middle_name", " ".join(given[1:]), f"{path}.given")
    if n.get("suffix"):
        put("suffix", n["suffix"][0], f"{path}.suffix[0]")
    for i, other in enumerate(names):
        if isinstance(other, dict) and other.get("use") in ("usual", "nickname") and other.get("given"):
            put("preferred_name", other["given"][0], f"Patient.name[{i}].given[0]")
            break
    gender = r.get("gender")
    if gender is not None:
        if gender not in _SEX:
            raise FhirInputError(f"gender must be one of {', '.join(_SEX)}", "Patient.gender")
        put("sex", _SEX[gender], "Patient.gender")
    if not r.get("birthDate"):
        raise FhirInputError("Patient.birthDate is required", "Patient.birthDate")
    put("dob", r["birthDate"], "Patient.birthDate")
    phones: dict[str, tuple[str, int]] = {}
    for i, t in enumerate(_list(r, "telecom", "Patient.telecom")):
        if not isinstance(t, dict) or not t.get("value") or t.get("use") == "old" or (t.get("period") or {}).get("end"):
            continue
        if t.get("system") == "phone":
            slot = {"mobile": "phone_mobile", "home": "phone_home", "work": "phone_work"}.get(t.get("use", ""))
            slot = slot or next((s for s in ("phone_mobile", "phone_home") if s not in phones), None)
            if slot and slot not in phones:
                phones[slot] = (t["value"], i)
        elif t.get("system") == "email" and "email" not in fields:
            put("email", t["value"], f"Patient.telecom[{i}].value")
    for slot, (value, i) in phones.items():
        put(slot, value, f"Patient.telecom[{i}].value")
    addresses = _list(r, "address", "Patient.address")
    chosen = next((i for i, a in enumerate(addresses) if isinstance(a, dict) and a.get("use") == "home"), None)
    if chosen is None and addresses:
        chosen = 0
    if chosen is not None:
        a, path = addresses[chosen], f"Patient.address[{chosen}]"
        lines = [x for x in a.get("line", []) if isinstance(x, str)]
        put("address_line1", lines[0] if lines else "", f"{path}.line[0]")
        put("address_line2", ", ".join(lines[1:]), f"{path}.line[1]")
        put("city", a.get("city", ""), f"{path}.city")
        put("state", a.get("state", ""), f"{path}.state")
        put("postal_code", a.get("postalCode", ""), f"{path}.postalCode")
        country = a.get("country") or "US"
        put("country", {"USA": "US"}.get(country, country), f"{path}.country")
    for i, c in enumerate(_list(r, "communication", "Patient.communication")):
        codings = ((c or {}).get("language") or {}).get("coding") or []
        if codings and codings[0].get("code"):
            put("language", codings[0]["code"].split("-")[0], f"Patient.communication[{i}].language")
            break
    return fields, where


def reference_id(ref: Any, kind: str, path: str) -> str:
    """The id in a `Kind/<id>` reference (contained and absolute references are refused)."""
    value = (ref or {}).get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str) or not value.startswith(f"{kind}/"):
        raise FhirInputError(f"{path} must reference {kind}/<id>", path)
    return value.removeprefix(f"{kind}/")


def _instant(value: Any, path: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FhirInputError(f"{path} must be an instant with its offset", path) from None
    if parsed.tzinfo is None:
        raise FhirInputError(f"{path} must carry a timezone offset", path)
    return parsed


VISIT_TYPE_SYSTEM = "urn:praxis:visit-type"


def appointment(resource: Any) -> dict[str, Any]:
    """What booking needs from a FHIR Appointment: patient, practitioner, location, visit type,
    start (ids as strings), status, description and cancelation reason."""
    r = _expect(resource, "Appointment")
    out: dict[str, Any] = {"status": r.get("status", "booked"), "description": r.get("description") or ""}
    if not r.get("start") and not r.get("slot"):
        raise FhirInputError("Appointment.start is required", "Appointment.start")
    out["start"] = _instant(r["start"], "Appointment.start") if r.get("start") else None
    actors: dict[str, tuple[str, str]] = {}
    for i, p in enumerate(_list(r, "participant", "Appointment.participant")):
        ref = ((p or {}).get("actor") or {}).get("reference", "")
        kind = ref.partition("/")[0]
        if kind in ("Patient", "Practitioner", "Location") and kind not in actors:
            path = f"Appointment.participant[{i}].actor"
            actors[kind] = (reference_id(p["actor"], kind, path), path)
    slots = _list(r, "slot", "Appointment.slot")
    if len(slots) > 1:
        raise FhirInputError("Book one Slot per Appointment", "Appointment.slot")
    out["slot"] = reference_id(slots[0], "Slot", "Appointment.slot[0]") if slots else None
    # With a Slot, the Slot says who, where and what; without, the participants and type must.
    for kind in ("Patient",) if slots else ("Patient", "Practitioner", "Location"):
        if kind not in actors:
            raise FhirInputError(f"Appointment.participant needs a {kind}", "Appointment.participant")
    for kind in ("Patient", "Practitioner", "Location"):
        out[kind.lower()] = actors.get(kind)
    codings = ((r.get("appointmentType") or {}).get("coding")) or []
    code = next((c.get("code") for c in codings if isinstance(c, dict) and c.get("system") == VISIT_TYPE_SYSTEM), None)
    if not code and not slots:
        raise FhirInputError(f"Appointment.appointmentType needs a coding of system {VISIT_TYPE_SYSTEM} "
                             "(our visit type id)", "Appointment.appointmentType")
    out["visit_type"] = code
    out["cancel_reason"] = ((r.get("cancelationReason") or {}).get("text")) or ""
    return out
