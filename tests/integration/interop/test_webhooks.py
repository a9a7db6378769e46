"""Webhooks: signed deliveries to a receiver on 127.0.0.1, retries with backoff through the outbox,
dead letter, replay, tenancy and the minimum-necessary payload."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from praxis.interop import signing, webhooks
from praxis.platform import clock
from tests.integration.interop.hooks import Receiver
from tests.integration.interop.hooks import drain as _drain
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world


def _book(org: Any) -> Any:
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    pid = make_patient(org)
    return scheduling.book(w.ctx, patient_id=pid, visit_type_id=w.visit_id, provider_id=w.provider_id,
                           location_id=org.loc_a.id, start_at=w.local(future_weekday(), 10))


def test_receiver_failing_twice_gets_the_event_once_signed(org: Any, bearer: Any, receiver: Receiver) -> None:
    c = bearer(org, ["webhooks:manage"])
    r = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked"]})
    assert r.status_code == 201, r.text
    sub = r.json()
    secret = sub["secret"]
    assert secret.startswith("whsec_") and "secret" not in c.get("/api/v1/webhooks").json()[0]
    receiver.fail_first = 2
    appt = _book(org)
    _drain(org)
    assert len(receiver.received) == 3
    ids = {h["webhook-id"] for h, _ in receiver.received}
    assert len(ids) == 1  # one event, one id across its retries
    headers, body = receiver.received[-1]
    assert signing.verify(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body,
                          headers["webhook-signature"])
    assert not signing.verify(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body + b" ",
                              headers["webhook-signature"])
    event = json.loads(body)
    assert event["type"] == "appointment.booked"
    assert event["data"]["appointment_id"] == str(appt.id)
    assert set(event["data"]) <= {"appointment_id", "patient_id", "location_id"}  # identifiers only
    log = c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [("delivered", 3, 204)]


def test_receiver_that_always_fails_ends_dead_and_replays(org: Any, bearer: Any, receiver: Receiver) -> None:
    c = bearer(org, ["webhooks:manage"])
    sub = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked",
                                                                                "appointment.cancelled"]}).json()
    receiver.fail_first = 10_000
    _book(org)
    _drain(org, rounds=webhooks.MAX_ATTEMPTS + 3)
    log = c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()
    assert [(d["status"], d["attempts"]) for d in log] == [("dead", webhooks.MAX_ATTEMPTS)]
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    receiver.fail_first = 0
    receiver.received.clear()
    assert c.post(f"/api/v1/webhooks/deliveries/{log[0]['id']}/replay").json()["status"] == "pending"
    _drain(org)
    assert len(receiver.received) == 1
    assert c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()[0]["status"] == "delivered"


def test_events_of_another_organisation_are_not_sent(org: Any, other_org: Any, bearer: Any,
                                                    receiver: Receiver) -> None:
    mine = bearer(org, ["webhooks:manage"])
    sub = mine.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked"]}).json()
    _book(other_org)
    _drain(other_org)
    assert receiver.received == []
    theirs = bearer(other_org, ["webhooks:manage"])
    assert theirs.get(f"/api/v1/webhooks/{sub['id']}/deliveries").status_code == 404
    assert theirs.get("/api/v1/webhooks").json() == []


def test_patient_registered_and_bad_input(org: Any, bearer: Any, receiver: Receiver) -> None:
    c = bearer(org, ["webhooks:manage", "patients:write"])
    bad = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["patient.deleted"]})
    assert bad.status_code == 422 and bad.json()["field"] == "event_types"
    c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["patient.registered"]})
    r = c.post("/api/v1/patients", json={"first_name": "Webb", "last_name": "Hooke", "dob": "1990-01-02"})
    assert r.status_code == 201, r.text
    _drain(org)
    assert [json.loads(b)["data"]["patient_id"] for _, b in receiver.received] == [r.json()["id"]]


def test_secret_rotation_signs_with_both_until_the_old_expires(org: Any, bearer: Any, receiver: Receiver) -> None:
    c = bearer(org, ["webhooks:manage"])
    sub = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked"]}).json()
    old = sub["secret"]
    new = c.post(f"/api/v1/webhooks/{sub['id']}/rotate-secret").json()["secret"]
    assert new != old and new.startswith("whsec_")
    _book(org)
    _drain(org)
    headers, body = receiver.received[-1]
    args = (headers["webhook-id"], int(headers["webhook-timestamp"]), body, headers["webhook-signature"])
    assert signing.verify(new, *args) and signing.verify(old, *args)
    clock.advance(webhooks.ROTATION_OVERLAP + timedelta(minutes=1))
    c.post(f"/api/v1/webhooks/{sub['id']}/pause")
    c.post(f"/api/v1/webhooks/{sub['id']}/resume")
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id, provider_id=w.provider_id,
                    location_id=org.loc_a.id, start_at=w.local(future_weekday(9), 10))
    _drain(org)
    headers, body = receiver.received[-1]
    args = (headers["webhook-id"], int(headers["webhook-timestamp"]), body, headers["webhook-signature"])
    assert signing.verify(new, *args) and not signing.verify(old, *args)


def test_a_paused_subscription_holds_its_deliveries_until_resumed(org: Any, bearer: Any, receiver: Receiver) -> None:
    c = bearer(org, ["webhooks:manage"])
    sub = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked"]}).json()
    receiver.fail_first = 1
    _book(org)
    _drain(org, rounds=2)  # the fan-out, then one failed attempt
    c.post(f"/api/v1/webhooks/{sub['id']}/pause")
    _drain(org)  # the retry comes due while paused: not sent
    assert len(receiver.received) == 1
    assert [d["status"] for d in c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()] == ["pending"]
    c.post(f"/api/v1/webhooks/{sub['id']}/resume")
    _drain(org)
    assert len(receiver.received) == 2 and len({h["webhook-id"] for h, _ in receiver.received}) == 1
    log = c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()
    assert [(d["status"], d["attempts"], d["next_attempt_at"]) for d in log] == [("delivered", 2, None)]
