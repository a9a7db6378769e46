"""Every event type a subscription can choose reaches a subscribed receiver end to end: the domain
action, its outbox event, the fan-out, the signed POST. Payloads carry identifiers (and a claim's
two statuses), nothing else."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from praxis.interop import signing, webhooks
from praxis.platform import clock
from tests.integration.interop.hooks import Receiver, drain
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world


def _subscribe(org: Any, bearer: Any, receiver: Receiver, event_type: str) -> str:
    r = bearer(org, ["webhooks:manage"]).post("/api/v1/webhooks", json={"url": receiver.url,
                                                                      "event_types": [event_type]})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def _events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    out = []
    for headers, body in receiver.received:
        assert signing.verify(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body,
                              headers["webhook-signature"])
        out.append(json.loads(body))
    return out


def _book(org: Any, days_ahead: int = 7) -> Any:
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    return scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id,
                           provider_id=w.provider_id, location_id=org.loc_a.id,
                           start_at=w.local(future_weekday(days_ahead), 10))


def test_appointment_booked(org: Any, bearer: Any, receiver: Receiver) -> None:
    secret = _subscribe(org, bearer, receiver, "appointment.booked")
    appt = _book(org)
    drain(org)
    [event] = _events(receiver, secret)
    assert event["type"] == "appointment.booked"
    assert event["data"] == {"appointment_id": str(appt.id), "patient_id": str(appt.patient_id),
                             "location_id": str(org.loc_a.id)}


def test_appointment_cancelled(org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.scheduling import service as scheduling

    secret = _subscribe(org, bearer, receiver, "appointment.cancelled")
    appt = _book(org)
    scheduling.cancel(make_world(org).ctx, appt.id, reason="Patient called")
    drain(org)
    assert [(e["type"], e["data"]) for e in _events(receiver, secret)] == [
        ("appointment.cancelled", {"appointment_id": str(appt.id)})]


def test_appointment_modified_carries_the_two_visit_types_and_each_change_is_its_own_event(
        org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.scheduling import service as scheduling

    secret = _subscribe(org, bearer, receiver, "appointment.modified")
    w = make_world(org)
    appt = scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(future_weekday(7), 10))
    for to in (w.new_visit_id, w.visit_id, w.new_visit_id):  # A -> B -> A -> B
        scheduling.change_visit_type(w.ctx, appt.id, visit_type_id=to)
    scheduling.reschedule(w.ctx, appt.id, start_at=w.local(future_weekday(8), 10))  # a move is not a modification
    drain(org)
    a, b = str(w.visit_id), str(w.new_visit_id)
    assert sorted(((e["type"], e["data"]) for e in _events(receiver, secret)), key=lambda e: e[1]["version"]) == [
        ("appointment.modified", {"appointment_id": str(appt.id), "visit_type_id": b, "was_visit_type_id": a,
                                  "version": 2}),
        ("appointment.modified", {"appointment_id": str(appt.id), "visit_type_id": a, "was_visit_type_id": b,
                                  "version": 3}),
        ("appointment.modified", {"appointment_id": str(appt.id), "visit_type_id": b, "was_visit_type_id": a,
                                  "version": 4})]


def test_appointment_checked_in_and_not_other_status_changes(org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.scheduling import service as scheduling

    secret = _subscribe(org, bearer, receiver, "appointment.checked_in")
    appt = _book(org)
    clock.advance(appt.start_at + timedelta(minutes=5) - clock.now())
    ctx = make_world(org).ctx
    scheduling.change_status(ctx, appt.id, "check_in")
    scheduling.change_status(ctx, appt.id, "check_out")  # another status change: no event
    drain(org)
    assert [(e["type"], e["data"]) for e in _events(receiver, secret)] == [
        ("appointment.checked_in", {"appointment_id": str(appt.id)})]


def test_patient_registered(org: Any, bearer: Any, receiver: Receiver) -> None:
    secret = _subscribe(org, bearer, receiver, "patient.registered")
    r = bearer(org, ["patients:write"]).post(f"/api/v1/patients?location_id={org.loc_a.id}", json={
        "first_name": "Webb", "last_name": "Hooke", "dob": "1990-01-02"})
    assert r.status_code == 201, r.text
    drain(org)
    [event] = _events(receiver, secret)
    assert event["type"] == "patient.registered"
    assert event["data"] == {"patient_id": r.json()["id"], "location_id": str(org.loc_a.id)}
    assert "Webb" not in json.dumps(event) and "1990" not in json.dumps(event)  # no PHI


def test_patient_merged(org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.patients.merge import merge_patients
    from praxis.platform.context import system_context
    from tests.integration.patients.helpers import register

    secret = _subscribe(org, bearer, receiver, "patient.merged")
    ctx = system_context(org.id, "test")
    keep = register(ctx, "Mer", "Ger", date(1970, 3, 4), location_id=org.loc_a.id)
    dupe = register(ctx, "Merr", "Ger", date(1970, 3, 4), location_id=org.loc_a.id)
    merge = merge_patients(ctx, keep.id, dupe.id, "same person")
    drain(org)
    assert [(e["type"], e["data"]) for e in _events(receiver, secret)] == [
        ("patient.merged", {"merge_id": str(merge.id), "survivor_id": str(keep.id), "merged_id": str(dupe.id)})]


def test_intake_submitted(org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.intake import service as intake
    from praxis.intake.schemas import WorkflowIn
    from praxis.platform.context import system_context
    from tests.integration.intake.test_intake import two_step
    from tests.integration.patients.helpers import register

    secret = _subscribe(org, bearer, receiver, "intake.submitted")
    ctx = system_context(org.id, "test")
    intake.create_workflow(ctx, WorkflowIn(name="Visit", location_id=org.loc_a.id, definition=two_step()))
    p = register(ctx, "Ira", "Intake", date(1985, 1, 1), location_id=org.loc_a.id)
    sub = intake.start_intake(ctx, p.id, org.loc_a.id)
    intake.save_answers(ctx, sub.id, {"phone": "2125550111", "smoker": "no"}, step=0)
    intake.save_answers(ctx, sub.id, {"sign": {"name": "Ira Intake", "agreed": True}}, step=1)
    intake.submit_intake(ctx, sub.id)
    drain(org)
    assert [(e["type"], e["data"]) for e in _events(receiver, secret)] == [
        ("intake.submitted", {"submission_id": str(sub.id), "patient_id": str(p.id)})]


def test_claim_status_changed(org: Any, bearer: Any, receiver: Receiver) -> None:
    from praxis.billing import claims
    from tests.integration.billing.helpers import make_billing_world

    secret = _subscribe(org, bearer, receiver, "claim.status_changed")
    w = make_billing_world(org)
    pid, _ = w.patient()
    [claim] = claims.build_claims(w.ctx, w.encounter(pid).id)
    assert claim.status == "ready"
    drain(org)
    events = sorted(_events(receiver, secret), key=lambda e: e["timestamp"])
    assert [(e["data"]["old_status"], e["data"]["new_status"]) for e in events] in (
        [("draft", "scrubbed"), ("scrubbed", "ready")], [("scrubbed", "ready"), ("draft", "scrubbed")])
    for e in events:
        assert e["type"] == "claim.status_changed"
        data = e["data"]
        assert set(data) == {"claim_id", "claim_event_id", "patient_id", "payer_id", "old_status", "new_status"}
        assert (data["claim_id"], data["patient_id"], data["payer_id"]) == (str(claim.id), str(pid),
                                                                             str(w.payer_id))
    assert len({e["data"]["claim_event_id"] for e in events}) == 2


def test_every_event_type_has_a_test() -> None:
    """A new event type in webhooks.EVENTS needs its own test here, named after it."""
    tests = [name for name in globals() if name.startswith("test_")]
    missing = [t for t in webhooks.EVENTS if not any(n.startswith("test_" + t.replace(".", "_")) for n in tests)]
    assert missing == []
