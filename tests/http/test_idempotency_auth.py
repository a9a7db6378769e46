"""Issue 17, finding 4: an Idempotency-Key is looked up only after the caller is authenticated and
holds the route's permission; nothing is stored for anyone else; a replayed answer carrying
patient data is audited like a read."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, select

from praxis.identity import service
from praxis.platform import audit
from praxis.platform.context import system_context
from praxis.platform.db import get_engine
from praxis.platform.idempotency import IdempotentRequest

PATIENT = {"first_name": "Rosa", "last_name": "Idempotent", "dob": "1970-02-03", "confirm_duplicate": True}


def _stored() -> int:
    with get_engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(IdempotentRequest)).scalar_one()


def _client_id(org, c):
    return uuid.UUID(c.get("/api/v1/me").json()["actor_id"])


def test_a_revoked_client_gets_401_not_its_stored_answer(org, bearer):
    c = bearer(org, ["patients:write", "patients:read"], location_ids=[org.loc_a.id])
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/v1/patients?location_id={org.loc_a.id}"
    first = c.post(url, json=PATIENT, headers=key)
    assert first.status_code == 201, first.text
    service.revoke_api_client(system_context(org.id, "test"), _client_id(org, c))
    assert c.get("/api/v1/me").status_code == 401
    again = c.post(url, json=PATIENT, headers=key)
    assert again.status_code == 401, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "Idempotent-Replayed" not in again.headers and first.json()["id"] not in again.text


def test_a_caller_without_the_permission_gets_403_not_the_stored_answer(org, make_user, login):
    """Per-credential keys: a session whose grants were taken away keeps its cookie, not its rights."""
    from praxis.identity.service import get_member, remove_grant

    desk = make_user(org, "front_desk", org.loc_a)
    c = login(desk)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/v1/patients?location_id={org.loc_a.id}"
    assert c.post(url, json=PATIENT, headers=key).status_code == 201
    admin = system_context(org.id, "test")
    remove_grant(admin, desk.membership_id, get_member(admin, desk.membership_id).grants[0]["id"])
    again = c.post(url, json=PATIENT, headers=key)
    assert again.status_code == 403 and "Idempotent-Replayed" not in again.headers, again.text


def test_unauthenticated_and_unpermitted_posts_store_nothing(org, bearer, new_client):
    before = _stored()
    junk = new_client()
    for _ in range(200):
        r = junk.post("/api/v1/patients", json=PATIENT,
                      headers={"Authorization": f"Bearer prx_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
                               "Idempotency-Key": f"k-{uuid.uuid4()}"})
        assert r.status_code == 401
    reader = bearer(org, ["patients:read"])
    for _ in range(5):
        assert reader.post("/api/v1/patients", json=PATIENT,
                           headers={"Idempotency-Key": f"k-{uuid.uuid4()}"}).status_code == 403
    assert _stored() == before


def test_a_replay_is_audited_like_a_read_of_the_patient(org, bearer):
    c = bearer(org, ["patients:write", "patients:read"], location_ids=[org.loc_a.id])
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    url = f"/api/v1/patients?location_id={org.loc_a.id}"
    first = c.post(url, json=PATIENT, headers=key)
    patient_id = uuid.UUID(first.json()["id"])
    second = c.post(url, json=PATIENT, headers=key)
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    client_id = _client_id(org, c)
    with get_engine().connect() as conn:
        t = audit.AuditRecord.__table__
        rows = conn.execute(select(t.c.action, t.c.actor_id, t.c.patient_id, t.c.resource_type)
                            .where(t.c.org_id == org.id, t.c.action == "idempotent.replay")).all()
    assert [(r.actor_id, r.patient_id, r.resource_type) for r in rows] == [(client_id, patient_id, "http_answer")]
    # A replay of an answer about no patient writes no patient audit row.
    admin = bearer(org, ["locations:create"])
    loc = {"code": "RPL", "name": "Replay"}
    lkey = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert admin.post("/api/v1/locations", json=loc, headers=lkey).status_code == 201
    assert admin.post("/api/v1/locations", json=loc, headers=lkey).headers["Idempotent-Replayed"] == "true"
    with get_engine().connect() as conn:
        n = conn.execute(select(func.count()).select_from(t)
                         .where(t.c.org_id == org.id, t.c.action == "idempotent.replay")).scalar_one()
    assert n == 1
