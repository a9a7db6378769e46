"""FHIR Schedule, Slot and PractitionerRole; booking an Appointment for a free Slot."""

from __future__ import annotations

from typing import Any

from tests.integration.interop.support import fhir, outcome
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

HEADERS = {"Content-Type": "application/fhir+json"}
SCOPES = ["system/Schedule.read", "system/Slot.read", "system/PractitionerRole.read", "system/Appointment.read",
          "system/Appointment.write", "system/Patient.read"]


def _for_slot(pid: Any, slot_id: str) -> dict[str, Any]:
    return {"resourceType": "Appointment", "status": "booked", "slot": [{"reference": f"Slot/{slot_id}"}],
            "participant": [{"actor": {"reference": f"Patient/{pid}"}, "status": "accepted"}]}


def test_schedules_slots_and_booking_a_slot(org: Any, bearer: Any) -> None:
    w = make_world(org)
    pid, other = make_patient(org), make_patient(org)
    c = bearer(org, SCOPES)
    schedules = fhir(c.get("/fhir/R4/Schedule", params={"actor": f"Practitioner/{w.provider_id}"}))
    assert len(schedules["entry"]) == 2  # Ada works at both locations
    at_a = next(e["resource"] for e in schedules["entry"]
                if {"reference": f"Location/{org.loc_a.id}"} in e["resource"]["actor"])
    fhir(c.get(f"/fhir/R4/Schedule/{at_a['id']}"))
    day = future_weekday(8).isoformat()
    slots = fhir(c.get("/fhir/R4/Slot", params={"schedule": f"Schedule/{at_a['id']}", "start": f"ge{day}",
                                                "appointment-type": f"urn:praxis:visit-type|{w.visit_id}",
                                                "_count": 3}))
    assert len(slots["entry"]) == 3 and any(link["relation"] == "next" for link in slots["link"])
    first = slots["entry"][0]["resource"]
    assert first["status"] == "free" and first["start"] >= day
    assert fhir(c.get(f"/fhir/R4/Slot/{first['id']}"))["start"] == first["start"]
    made = fhir(c.post("/fhir/R4/Appointment", json=_for_slot(pid, first["id"]), headers=HEADERS), 201)
    assert made["start"] == first["start"]
    assert {"reference": f"Practitioner/{w.provider_id}"} in [p["actor"] for p in made["participant"]]
    # The slot is taken: it is no longer offered, and booking it again is a conflict.
    assert outcome(c.get(f"/fhir/R4/Slot/{first['id']}"), 404)["code"] == "not-found"
    assert outcome(c.post("/fhir/R4/Appointment", json=_for_slot(other, first["id"]), headers=HEADERS),
                   409)["code"] == "conflict"
    role = fhir(c.get(f"/fhir/R4/PractitionerRole/{w.provider_id}"))
    assert {loc["reference"] for loc in role["location"]} == {f"Location/{org.loc_a.id}", f"Location/{org.loc_b.id}"}


def test_slot_errors_and_tenancy(org: Any, other_org: Any, bearer: Any) -> None:
    w = make_world(org)
    c = bearer(org, SCOPES)
    assert outcome(c.get("/fhir/R4/Slot"), 400)["expression"] == ["appointment-type"]
    assert outcome(c.get("/fhir/R4/Slot", params={"appointment-type": str(w.visit_id), "status": "busy"}),
                   400)["expression"] == ["status"]
    slots = fhir(c.get("/fhir/R4/Slot", params={"appointment-type": str(w.visit_id), "_count": 1}))
    slot = slots["entry"][0]["resource"]["id"]
    theirs = bearer(other_org, SCOPES)
    assert outcome(theirs.get(f"/fhir/R4/Slot/{slot}"), 404)["code"] == "not-found"
    assert outcome(theirs.post("/fhir/R4/Appointment", json=_for_slot(make_patient(other_org), slot),
                               headers=HEADERS), 404)["code"] == "not-found"
    assert "entry" not in fhir(theirs.get("/fhir/R4/Schedule"))
    assert outcome(c.get("/fhir/R4/Slot/garbage"), 404)["code"] == "not-found"
