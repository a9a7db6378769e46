"""The patient page as a workplace (issue 13, item 2): demographics and contact edited in place,
coverages added/edited/ended, the payer directory, alerts acknowledged. Each action: who may,
what the audit log says, another organisation's object answers 404, bad input is a form
message and changes nothing."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from praxis.intake import service as intake
from praxis.intake.definition import PHQ9_OPTIONS, phq9_step
from praxis.intake.schemas import WorkflowIn
from praxis.patients import alerts, coverage
from praxis.patients.models import Patient, Payer
from praxis.platform.audit import AuditRecord
from praxis.platform.context import system_context
from praxis.platform.db import session_scope
from tests.integration.patients.helpers import cover, payer, register, staff

HX = {"HX-Request": "true", "Accept": "text/html"}
HTML = {"Accept": "text/html"}


def _audit(org_id: Any, actor_id: Any, action: str) -> list[AuditRecord]:
    with session_scope(org_id) as s:
        return list(s.scalars(select(AuditRecord).where(AuditRecord.actor_id == actor_id,
                                                        AuditRecord.action == action)))


def _patient(org_id: Any, pid: Any) -> Patient:
    with session_scope(org_id) as s:
        p = s.get(Patient, (pid, org_id)) or s.scalars(select(Patient).where(Patient.id == pid)).one()
        s.expunge(p)
        return p


@pytest.fixture
def desk(org, make_user, login):
    user = make_user(org, "front_desk", org.loc_a)
    return user, staff(login, user)


@pytest.fixture
def patient(org):
    return register(system_context(org.id), "Maria", "Lopez", date(1970, 1, 2), location_id=org.loc_a.id,
                    phone_mobile="2125550111")


# --- demographics and contact --------------------------------------------------------------------


def test_demographics_edit_in_place_is_saved_and_audited(org, desk, patient):
    user, c = desk
    form = c.get(f"/patients/{patient.id}/edit/demographics", headers=HX)
    assert form.status_code == 200 and 'name="first_name"' in form.text and 'value="Maria"' in form.text
    assert "<html" not in form.text  # a fragment for htmx, not a page

    r = c.post(f"/patients/{patient.id}/edit/demographics", headers=HX, data={
        "first_name": "Marianne", "last_name": "Lopez", "dob": "1970-01-02", "sex": "F", "language": "es",
        "address_line1": "1 Main St", "city": "Albany", "state": "ny", "postal_code": "12207"})
    assert r.status_code == 200, r.text
    assert "Demographics saved." in r.text and "Lopez, Marianne" in r.text and "Albany NY 12207" in r.text
    saved = _patient(org.id, patient.id)
    assert (saved.first_name, saved.state, saved.language) == ("Marianne", "NY", "es")
    assert saved.phone_mobile == "+12125550111"  # another card's fields are untouched
    [rec] = _audit(org.id, user.user_id, "patient.update")
    assert rec.patient_id == patient.id
    assert {"first_name", "state", "city"} <= set(rec.detail["fields"])


def test_demographics_bad_input_is_a_form_message_and_changes_nothing(org, desk, patient):
    user, c = desk
    r = c.post(f"/patients/{patient.id}/edit/demographics", headers=HX, data={
        "first_name": "", "last_name": "Lopez", "dob": "2999-01-01", "state": "New York"})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and "in the future" in r.text
    assert 'value="New York"' in r.text  # what was typed stays in the box
    assert _patient(org.id, patient.id).first_name == "Maria"
    assert _audit(org.id, user.user_id, "patient.update") == []
    # Without htmx: the whole page comes back with the form open and the messages.
    page = c.post(f"/patients/{patient.id}/edit/demographics", headers=HTML, data={
        "first_name": "", "last_name": "Lopez", "dob": "1970-01-02"}, follow_redirects=False)
    assert page.status_code == 422 and "<html" in page.text and 'id="e-first_name"' in page.text


def test_contact_preferences_edit_clears_and_sets_consents(org, desk, patient):
    user, c = desk
    r = c.post(f"/patients/{patient.id}/edit/contact", headers=HTML, follow_redirects=False, data={
        "phone_mobile": "", "phone_home": "(518) 555-0142", "email": "maria@example.org",
        "preferred_channel": "email", "consent_email": "on", "sms_opted_out": "on"})
    assert r.status_code == 303 and r.headers["location"].endswith("#contact")
    p = _patient(org.id, patient.id)
    assert (p.phone_mobile, p.phone_home, p.email, p.preferred_channel) == (
        None, "+15185550142", "maria@example.org", "email")
    assert (p.consent_email, p.consent_sms, p.sms_opted_out) == (True, False, True)
    bad = c.post(f"/patients/{patient.id}/edit/contact", headers=HX, data={"phone_home": "12"})
    assert bad.status_code == 422 and "not a valid phone number" in bad.text
    assert _patient(org.id, patient.id).phone_home == "+15185550142"
    assert len(_audit(org.id, user.user_id, "patient.update")) == 1


def test_edit_needs_patients_write_and_other_org_is_404(org, other_org, make_user, login, patient):
    provider = staff(login, make_user(org, "provider"))
    page = provider.get(f"/patients/{patient.id}", headers=HTML)
    assert page.status_code == 200 and "Edit demographics" not in page.text
    assert provider.post(f"/patients/{patient.id}/edit/demographics", headers=HX,
                         data={"first_name": "X"}).status_code == 403
    outsider = staff(login, make_user(other_org, "org_admin"))
    for url in (f"/patients/{patient.id}/edit/demographics", f"/patients/{patient.id}/edit/contact"):
        assert outsider.get(url, headers=HX).status_code == 404
        assert outsider.post(url, headers=HX, data={"first_name": "X", "last_name": "Y",
                                                    "dob": "1970-01-01"}).status_code == 404
    assert _patient(org.id, patient.id).first_name == "Maria"
    admin = staff(login, make_user(org, "org_admin"))
    assert admin.get(f"/patients/{patient.id}/edit/history", headers=HX).status_code == 404


# --- coverages ----------------------------------------------------------------------------------


def test_coverage_add_edit_end_through_the_card(org, desk, patient):
    user, c = desk
    ctx = system_context(org.id)
    aetna, cigna = payer(ctx, "60054", "Aetna"), payer(ctx, "62308", "Cigna")
    payer(ctx, "99999", "Gone Health")
    coverage.set_payer_active(ctx, payer(ctx, "88888", "Old Mutual").id, False)
    page = c.get(f"/patients/{patient.id}", headers=HTML)
    assert "Aetna · 60054" in page.text and "Old Mutual" not in page.text  # inactive payers are not offered

    r = c.post(f"/patients/{patient.id}/coverages", headers=HX, data={
        "payer_id": str(aetna.id), "member_id": "W111", "group_number": "G1", "priority": "1"})
    assert r.status_code == 200 and "Insurance added." in r.text and "W111" in r.text
    [cov] = coverage.list_coverages(ctx, patient.id)

    form = c.get(f"/patients/{patient.id}/coverages/{cov.id}/edit", headers=HX)
    assert form.status_code == 200 and 'value="W111"' in form.text
    r = c.post(f"/patients/{patient.id}/coverages/{cov.id}", headers=HX, data={
        "payer_id": str(cigna.id), "member_id": "C222", "priority": "1", "relationship": "18"})
    assert r.status_code == 200 and "Insurance saved." in r.text and "Cigna" in r.text
    [cov] = coverage.list_coverages(ctx, patient.id)
    assert (cov.payer_id, cov.member_id) == (cigna.id, "C222")

    bad = c.post(f"/patients/{patient.id}/coverages/{cov.id}", headers=HX, data={
        "payer_id": str(cigna.id), "member_id": "", "priority": "1"})
    assert bad.status_code == 422 and "member id" in bad.text
    clash = c.post(f"/patients/{patient.id}/coverages", headers=HX, data={
        "payer_id": str(aetna.id), "member_id": "W333", "priority": "1"})
    assert clash.status_code == 422 and "already has an active primary coverage" in clash.text
    assert [x.member_id for x in coverage.list_coverages(ctx, patient.id)] == ["C222"]

    r = c.post(f"/patients/{patient.id}/coverages/{cov.id}/end", headers=HX)
    assert r.status_code == 200 and "Insurance ended." in r.text and "ended" in r.text
    assert coverage.list_coverages(ctx, patient.id)[0].active is False
    actions = {a: len(_audit(org.id, user.user_id, a)) for a in ("coverage.create", "coverage.update",
                                                                 "coverage.end")}
    assert actions == {"coverage.create": 1, "coverage.update": 1, "coverage.end": 1}


def test_coverage_of_another_patient_or_org_is_404(org, other_org, desk, patient, make_user, login):
    _, c = desk
    ctx = system_context(org.id)
    other = register(ctx, "Ann", "Other", date(1990, 3, 4), location_id=org.loc_a.id)
    cov = cover(ctx, other.id, payer(ctx, "60054").id)
    assert c.get(f"/patients/{patient.id}/coverages/{cov.id}/edit", headers=HX).status_code == 404
    assert c.post(f"/patients/{patient.id}/coverages/{cov.id}/end", headers=HX).status_code == 404
    assert c.post(f"/patients/{patient.id}/coverages/{cov.id}", headers=HX,
                  data={"payer_id": str(cov.payer_id), "member_id": "HACK"}).status_code == 404
    assert coverage.list_coverages(ctx, other.id)[0].member_id == "W123456789"
    outsider = staff(login, make_user(other_org, "org_admin"))
    assert outsider.post(f"/patients/{other.id}/coverages/{cov.id}/end", headers=HX).status_code == 404
    assert coverage.list_coverages(ctx, other.id)[0].active is True
    foreign_payer = payer(system_context(other_org.id), "77777", "Foreign")
    r = c.post(f"/patients/{patient.id}/coverages", headers=HX,
               data={"payer_id": str(foreign_payer.id), "member_id": "F1"})
    assert r.status_code == 422 and "Unknown payer" in r.text


# --- the payer directory ------------------------------------------------------------------------


def test_payer_directory_add_edit_deactivate(org, other_org, make_user, login, desk):
    _, front = desk
    biller = make_user(org, "biller")
    c = staff(login, biller)
    ctx = system_context(org.id)
    payer(ctx, "60054", "Aetna")
    listing = front.get("/payers", headers=HTML)
    assert listing.status_code == 200 and "Aetna" in listing.text and "Add a payer" not in listing.text
    assert front.post("/payers", headers=HTML, data={"name": "X", "payer_code": "X1"}).status_code == 403

    bad = c.post("/payers", headers=HTML, data={"name": "", "payer_code": "no spaces"})
    assert bad.status_code == 422 and 'id="e-payer_code"' in bad.text and 'id="e-name"' in bad.text
    dup = c.post("/payers", headers=HTML, data={"name": "Aetna again", "payer_code": "60054"})
    assert dup.status_code == 409 and "already exists" in dup.text
    r = c.post("/payers", headers=HTML, follow_redirects=False, data={
        "name": "Blue Shield", "payer_code": "bs123", "claim_filing_indicator": "BL", "state": "ca"})
    assert r.status_code == 303
    with session_scope(org.id) as s:
        bs = s.scalars(select(Payer).where(Payer.payer_code == "BS123")).one()
        assert (bs.state, bs.claim_filing_indicator) == ("CA", "BL")
        bs_id = bs.id
    edit = c.get(f"/payers/{bs_id}", headers=HTML)
    assert edit.status_code == 200 and 'value="Blue Shield"' in edit.text
    r = c.post(f"/payers/{bs_id}", headers=HTML, follow_redirects=False,
               data={"name": "Blue Shield of California", "payer_code": "BS123", "claim_filing_indicator": "BL"})
    assert r.status_code == 303
    assert c.post(f"/payers/{bs_id}", headers=HTML, data={"name": "Dup", "payer_code": "60054"}).status_code == 409
    assert c.post(f"/payers/{bs_id}/active", headers=HTML, data={"active": "0"},
                  follow_redirects=False).status_code == 303
    [out] = [p for p in coverage.list_payers(ctx, include_inactive=True) if p.id == bs_id]
    assert (out.name, out.active) == ("Blue Shield of California", False)
    assert len(_audit(org.id, biller.user_id, "payer.update")) == 2
    assert len(_audit(org.id, biller.user_id, "payer.create")) == 1

    outsider = staff(login, make_user(other_org, "org_admin"))
    assert outsider.get(f"/payers/{bs_id}", headers=HTML).status_code == 404
    assert outsider.post(f"/payers/{bs_id}/active", headers=HTML, data={"active": "1"}).status_code == 404
    assert outsider.post(f"/payers/{bs_id}", headers=HTML,
                         data={"name": "Hijack", "payer_code": "HJ"}).status_code == 404
    assert "Blue Shield of California" not in outsider.get("/payers", headers=HTML).text


# --- alerts -------------------------------------------------------------------------------------


def _phq9_intake(org: Any, patient_id: uuid.UUID, item9: str) -> uuid.UUID:
    ctx = system_context(org.id)
    defn = {"title": "Mood", "review_required": True, "steps": [phq9_step()]}
    vt = f"mood{uuid.uuid4().hex[:6]}"
    intake.create_workflow(ctx, WorkflowIn(name="Mood", location_id=org.loc_a.id, visit_type=vt, definition=defn))
    sub = intake.start_intake(ctx, patient_id, org.loc_a.id, vt)
    answers = {f"phq9_{i}": PHQ9_OPTIONS[1] for i in range(1, 9)} | {"phq9_9": item9,
                                                                     "phq9_difficulty": "Somewhat difficult"}
    intake.save_answers(ctx, sub.id, answers)
    intake.submit_intake(ctx, sub.id)
    return sub.id


def test_positive_phq9_item9_raises_an_alert_a_person_acknowledges(org, desk, patient):
    user, c = desk
    _phq9_intake(org, patient.id, PHQ9_OPTIONS[0])  # "Not at all": no alert
    assert alerts.list_alerts(system_context(org.id), patient.id) == []
    sub_id = _phq9_intake(org, patient.id, "More than half the days")
    [alert] = alerts.list_alerts(system_context(org.id), patient.id)
    assert (alert.kind, alert.source_id, alert.acknowledged_at) == ("phq9_item9", sub_id, None)

    page = c.get(f"/patients/{patient.id}", headers=HTML)
    assert "Needs acknowledgement" in page.text and "More than half the days" in page.text
    assert "Alert to acknowledge" in page.text

    r = c.post(f"/patients/{patient.id}/alerts/{alert.id}/acknowledge", headers=HX,
               data={"note": "Called the patient; safety plan in place"})
    assert r.status_code == 200 and "acknowledged by <strong>Test Front Desk</strong>" in r.text
    [done] = alerts.list_alerts(system_context(org.id), patient.id)
    assert done.acknowledged_by == user.user_id and done.acknowledged_at is not None
    assert done.acknowledgement_note == "Called the patient; safety plan in place"
    [rec] = _audit(org.id, user.user_id, "patient_alert.acknowledge")
    assert (rec.patient_id, rec.resource_id) == (patient.id, str(alert.id))

    again = c.post(f"/patients/{patient.id}/alerts/{alert.id}/acknowledge", headers=HX, data={})
    assert again.status_code == 409 and "already acknowledged by Test Front Desk" in again.text
    assert len(_audit(org.id, user.user_id, "patient_alert.acknowledge")) == 1
    page = c.get(f"/patients/{patient.id}", headers=HTML)
    assert "Needs acknowledgement" not in page.text and "Acknowledged (1)" in page.text


def test_alert_acknowledgement_permission_and_scope(org, other_org, make_user, login, patient):
    _phq9_intake(org, patient.id, "Nearly every day")
    [alert] = alerts.list_alerts(system_context(org.id), patient.id)
    analyst = staff(login, make_user(org, "analyst"))
    assert analyst.post(f"/patients/{patient.id}/alerts/{alert.id}/acknowledge", headers=HX).status_code == 403
    outsider = staff(login, make_user(other_org, "org_admin"))
    assert outsider.post(f"/patients/{patient.id}/alerts/{alert.id}/acknowledge", headers=HX).status_code == 404
    other = register(system_context(org.id), "Ann", "Other", date(1990, 3, 4), location_id=org.loc_a.id)
    provider = staff(login, make_user(org, "provider"))
    # Another patient's URL with this alert: 404, like a missing alert.
    assert provider.post(f"/patients/{other.id}/alerts/{alert.id}/acknowledge", headers=HX).status_code == 404
    assert alerts.list_alerts(system_context(org.id), patient.id)[0].acknowledged_at is None
    ok = provider.post(f"/patients/{patient.id}/alerts/{alert.id}/acknowledge", headers=HTML,
                       follow_redirects=False)
    assert ok.status_code == 303


# --- the same through the API -------------------------------------------------------------------


def test_alerts_and_payers_through_the_api(org, other_org, bearer, patient):
    _phq9_intake(org, patient.id, "Several days")
    reader = bearer(org, ["patients:read"])
    [alert] = reader.get(f"/api/v1/patients/{patient.id}/alerts").json()
    assert alert["kind"] == "phq9_item9" and alert["acknowledged_at"] is None
    denied = reader.post(f"/api/v1/patients/{patient.id}/alerts/{alert['id']}/acknowledge", json={})
    assert denied.status_code == 403
    acker = bearer(org, ["patients:read", "patients:alerts"])
    too_long = acker.post(f"/api/v1/patients/{patient.id}/alerts/{alert['id']}/acknowledge",
                          json={"note": "x" * 501})
    assert too_long.status_code == 422 and too_long.headers["content-type"].startswith("application/problem+json")
    done = acker.post(f"/api/v1/patients/{patient.id}/alerts/{alert['id']}/acknowledge", json={"note": "seen"})
    assert done.status_code == 200 and done.json()["acknowledgement_note"] == "seen"
    assert acker.post(f"/api/v1/patients/{patient.id}/alerts/{alert['id']}/acknowledge").status_code == 409
    outsider = bearer(other_org, ["patients:read", "patients:alerts"])
    assert outsider.get(f"/api/v1/patients/{patient.id}/alerts").status_code == 404

    manager = bearer(org, ["patients:read", "payers:manage"])
    made = payer(system_context(org.id), "60054", "Aetna")
    r = manager.put(f"/api/v1/payers/{made.id}", json={"payer_code": "60054", "name": "Aetna Better Health"})
    assert r.status_code == 200 and r.json()["name"] == "Aetna Better Health"
    assert manager.post(f"/api/v1/payers/{made.id}/deactivate").json()["active"] is False
    assert manager.post(f"/api/v1/payers/{made.id}/activate").json()["active"] is True
    assert manager.get(f"/api/v1/payers/{made.id}").json()["name"] == "Aetna Better Health"
    assert outsider.get(f"/api/v1/payers/{made.id}").status_code == 404
    assert bearer(other_org, ["payers:manage"]).put(
        f"/api/v1/payers/{made.id}", json={"payer_code": "X", "name": "Hijack"}).status_code == 404
