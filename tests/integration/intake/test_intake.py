"""Intake on a real database: versions, conditions, review, and the patient link's guarantees."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from praxis.intake import links, ratelimit, service
from praxis.intake.schemas import WorkflowIn
from praxis.patients import coverage
from praxis.patients import service as patients
from praxis.platform import clock
from praxis.platform.context import system_context
from praxis.platform.errors import Conflict, NotFound, TooManyRequests, ValidationProblem
from tests.integration.patients.helpers import payer, register
from tests.sqlcount import statements


def two_step() -> dict[str, Any]:
    return {
        "title": "Visit intake",
        "review_required": True,
        "steps": [
            {"key": "about", "title": "About you", "kind": "demographics", "fields": [
                {"key": "phone", "label": "Mobile", "type": "phone", "maps_to": "patient.phone_mobile",
                 "required": True},
                {"key": "smoker", "label": "Do you smoke?", "type": "select", "options": ["yes", "no"],
                 "required": True},
                {"key": "packs", "label": "Packs per day", "type": "number", "required": True, "min": 0,
                 "condition": {"field": "smoker", "op": "equals", "value": "yes"}},
            ]},
            {"key": "insurance", "title": "Insurance", "kind": "insurance", "fields": [
                {"key": "payer", "label": "Payer id", "type": "text", "maps_to": "coverage.payer_code"},
                {"key": "member", "label": "Member id", "type": "text", "maps_to": "coverage.member_id"},
                {"key": "sign", "label": "I confirm", "type": "signature", "required": True},
            ]},
        ],
    }


@pytest.fixture
def setup(org):
    ratelimit.reset()
    ctx = system_context(org.id)
    wf = service.create_workflow(ctx, WorkflowIn(name="Visit", location_id=org.loc_a.id, definition=two_step()))
    p = register(ctx, "Ira", "Intake", date(1985, 1, 1), location_id=org.loc_a.id)
    return ctx, wf, p


def test_invalid_definition_names_positions(org):
    ctx = system_context(org.id)
    bad = two_step()
    bad["steps"][0]["fields"][2]["condition"]["field"] = "smokes"
    with pytest.raises(ValidationProblem) as exc:
        service.create_workflow(ctx, WorkflowIn(name="Bad", definition=bad))
    assert "steps[0].fields[2].condition: unknown field 'smokes'" in exc.value.detail


def test_conditional_field_required_only_when_shown(setup, org):
    ctx, _wf, p = setup
    sub = service.start_intake(ctx, p.id, org.loc_a.id)
    with pytest.raises(ValidationProblem) as exc:
        service.save_answers(ctx, sub.id, {"phone": "212 555 0111", "smoker": "yes"}, step=0)
    assert exc.value.field == "packs"
    out = service.save_answers(ctx, sub.id, {"phone": "212 555 0111", "smoker": "no", "packs": "3"}, step=0)
    assert out.answers == {"phone": "+12125550111", "smoker": "no"}  # hidden answer dropped


def test_workflow_change_does_not_alter_submitted_intake(setup, org):
    ctx, wf, p = setup
    sub = service.start_intake(ctx, p.id, org.loc_a.id)
    service.save_answers(ctx, sub.id, {"phone": "2125550111", "smoker": "no"}, step=0)
    service.save_answers(ctx, sub.id, {"sign": {"name": "Ira Intake", "agreed": True}}, step=1)
    service.submit_intake(ctx, sub.id)
    edited = two_step()
    edited["steps"][0]["fields"][1]["options"] = ["never", "former", "current"]
    edited["steps"][0]["fields"][2]["condition"]["value"] = "current"
    new = service.save_workflow_version(ctx, wf.id, edited)
    assert new.current_version == 2
    detail = service.get_submission(ctx, sub.id)
    assert detail.version == 1 and detail.version_id == wf.current_version_id
    assert detail.definition["steps"][0]["fields"][1]["options"] == ["yes", "no"]
    # A new intake uses version 2.
    assert service.start_intake(ctx, p.id, org.loc_a.id).version_id == new.current_version_id


def test_review_applies_answers_to_registry(setup, org):
    ctx, _wf, p = setup
    payer(ctx, "87726", "UHC")
    sub = service.start_intake(ctx, p.id, org.loc_a.id)
    service.save_answers(ctx, sub.id, {"phone": "2125550177", "smoker": "no", "payer": "87726",
                                       "member": "U 555", "sign": {"name": "Ira", "agreed": True}})
    service.submit_intake(ctx, sub.id)
    assert patients.get_patient(ctx, p.id).phone_mobile is None  # nothing applied before review
    reviewed = service.review_intake(ctx, sub.id, approve=True)
    assert reviewed.status == "applied"
    assert patients.get_patient(ctx, p.id).phone_mobile == "+12125550177"
    assert [c.member_id for c in coverage.list_coverages(ctx, p.id)] == ["U 555"]
    with pytest.raises(Conflict):
        service.review_intake(ctx, sub.id, approve=True)


def _fill_via_link(token: str) -> None:
    links.save_link_step(token, "198.51.100.7", 0, {"phone": "6025550100", "smoker": "yes", "packs": "1"})
    links.save_link_step(token, "198.51.100.7", 1, {"sign": {"name": "Ira Intake", "agreed": "on"}})


def test_link_works_once_and_shows_nothing_else(setup, org):
    ctx, _wf, p = setup
    patients.update_patient(ctx, p.id, patients.PatientUpdate(email="secret@example.org"))
    link = links.send_intake_link(ctx, p.id, org.loc_a.id)
    view = links.view_link(link.token, "198.51.100.7")
    assert view.answers == {} and view.title == "Visit intake"
    assert "secret@example.org" not in repr(view) and p.mrn not in repr(view)
    _fill_via_link(link.token)
    links.submit_link(link.token, "198.51.100.7")
    with pytest.raises(links.LinkClosed):
        links.view_link(link.token, "198.51.100.7")
    with pytest.raises(links.LinkClosed):
        links.submit_link(link.token, "198.51.100.7")
    history = service.list_submissions(ctx, p.id)
    assert history[0].status == "submitted" and history[0].channel == "link"


def test_link_expires(setup, org):
    ctx, _wf, p = setup
    link = links.send_intake_link(ctx, p.id, org.loc_a.id, hours=72)
    clock.advance(timedelta(hours=71))
    links.view_link(link.token, "198.51.100.8")
    clock.advance(timedelta(hours=2))
    with pytest.raises(links.LinkClosed) as exc:
        links.view_link(link.token, "198.51.100.8")
    assert "expired" in exc.value.detail


def test_link_tokens_cannot_be_guessed_or_moved(setup, org, other_org):
    ctx, _wf, p = setup
    link = links.send_intake_link(ctx, p.id, org.loc_a.id)
    org_hex, secret = link.token.split(".")
    with pytest.raises(NotFound):
        links.view_link(f"{org_hex}.{secret[:-2]}xx", "198.51.100.9")
    with pytest.raises(NotFound):  # the same secret under another organisation finds nothing
        links.view_link(f"{other_org.id.hex}.{secret}", "198.51.100.9")
    with pytest.raises(NotFound):
        links.view_link("../../api/v1/patients", "198.51.100.9")
    # A newer link replaces the old one.
    newer = links.create_link(ctx, service.list_submissions(ctx, p.id)[0].id)
    with pytest.raises(links.LinkClosed):
        links.view_link(link.token, "198.51.100.9")
    links.view_link(newer.token, "198.51.100.9")


def test_link_is_rate_limited(setup, org):
    ctx, _wf, p = setup
    link = links.send_intake_link(ctx, p.id, org.loc_a.id)
    with pytest.raises(TooManyRequests):
        for _ in range(ratelimit.PER_TOKEN.limit + 1):
            links.view_link(link.token, "203.0.113.1")
    ratelimit.reset()


def test_link_upload_refuses_bad_files(setup, org):
    ctx, _wf, p = setup
    wf2 = two_step()
    wf2["steps"][1]["fields"].append({"key": "card", "label": "Card", "type": "file",
                                      "maps_to": "document.card_front"})
    service.create_workflow(ctx, WorkflowIn(name="Cards", location_id=org.loc_b.id, definition=wf2))
    link = links.send_intake_link(ctx, p.id, org.loc_b.id)
    links.save_link_step(link.token, "1.2.3.4", 0, {"phone": "6025550100", "smoker": "no"})
    from praxis.patients.documents import PayloadTooLarge, UnsupportedType

    with pytest.raises(UnsupportedType):
        links.save_link_step(link.token, "1.2.3.4", 1, {"sign": {"name": "I", "agreed": True}},
                             files={"card": ("card.png", b"GIF89a....")})
    with pytest.raises(PayloadTooLarge):
        links.save_link_step(link.token, "1.2.3.4", 1, {"sign": {"name": "I", "agreed": True}},
                             files={"card": ("card.png", b"\xff\xd8\xff" + b"0" * (11 * 1024 * 1024))})
    view = links.save_link_step(link.token, "1.2.3.4", 1, {"sign": {"name": "I", "agreed": True}},
                                files={"card": ("card.jpg", b"\xff\xd8\xff\xe0rest")})
    assert "card" in view.answers


def test_list_workflows_shows_current_versions_in_constant_queries(org):


    ctx = system_context(org.id)
    made = [service.create_workflow(ctx, WorkflowIn(name=f"List {i}", visit_type=f"list{i}", definition=two_step()))
            for i in range(2)]
    edited = two_step()
    edited["title"] = "Edited"
    v2 = service.save_workflow_version(ctx, made[0].id, edited)
    assert service.save_workflow_version(ctx, made[0].id, edited) == v2  # unchanged: no new version

    def listed():
        with statements() as seen:
            out = {w.id: w for w in service.list_workflows(ctx)}
        return out, len(seen)

    out, few = listed()
    assert (out[made[0].id].current_version, out[made[0].id].current_version_id) == (2, v2.current_version_id)
    assert out[made[0].id].definition["title"] == "Edited"
    assert (out[made[1].id].current_version, out[made[1].id].definition["title"]) == (1, "Visit intake")
    for i in range(2, 6):
        service.create_workflow(ctx, WorkflowIn(name=f"List {i}", visit_type=f"list{i}", definition=two_step()))
    out, more = listed()
    assert len(out) == 6 and more == few  # one query for the list, not one per workflow


def test_intake_card_from_the_same_payer_updates_the_coverage_in_place(setup, org):
    from praxis.platform import audit
    from praxis.platform.db import session_scope
    from tests.integration.patients.helpers import cover

    ctx, _wf, p = setup
    uhc = payer(ctx, "SAMEPAY", "Same Payer")
    old = cover(ctx, p.id, uhc.id, member_id="OLD 111", priority=2)
    sub = service.start_intake(ctx, p.id, org.loc_a.id)
    service.save_answers(ctx, sub.id, {"phone": "2125550178", "smoker": "no", "payer": "samepay",
                                       "member": "New-222 333", "sign": {"name": "Ira", "agreed": True}})
    service.submit_intake(ctx, sub.id)
    assert service.review_intake(ctx, sub.id, approve=True).apply_notes == []
    (cov,) = coverage.list_coverages(ctx, p.id)
    assert (cov.id, cov.member_id, cov.priority, cov.payer_id) == (old.id, "New-222 333", 2, uhc.id)
    assert [x.id for x in patients.find_patients(ctx, member_id="new222333")] == [p.id]  # normalised copy kept
    with session_scope(org.id) as s:
        rows = [r for r in audit.list_records(s, patient_id=p.id) if r.action == "coverage.update"]
    assert [(r.resource_id, r.detail) for r in rows] == [(str(old.id), {"via": "intake"})]


def test_intake_coverage_relationship_codes_and_bad_card_values(setup, org):
    """The card rule is patients' (patients.service.apply_coverage_card_in); intake only calls it."""
    from praxis.patients.service import apply_coverage_card_in
    from praxis.platform.uow import unit_of_work

    ctx, _wf, p = setup
    payer(ctx, "RELPAY", "Rel Payer")
    other = register(ctx, "Una", "Other", date(1990, 2, 2), location_id=org.loc_a.id)
    notes: list[str] = []
    with unit_of_work(ctx) as s:
        for patient_id, values in ((p.id, {"payer_code": "RELPAY", "member_id": "R1", "relationship": "19"}),
                                   (other.id, {"payer_code": "RELPAY", "member_id": "R2", "relationship": "99"})):
            applied = apply_coverage_card_in(s, ctx, patient_id, values)
            assert applied.coverage_id is not None
            notes += applied.notes
        bad = apply_coverage_card_in(s, ctx, other.id, {"payer_code": "RELPAY", "member_id": "M" * 81})
        assert bad.coverage_id is None
        notes += bad.notes
    assert [c.relationship for c in coverage.list_coverages(ctx, p.id)] == ["19"]
    assert [(c.relationship, c.member_id) for c in coverage.list_coverages(ctx, other.id)] == [("18", "R2")]
    assert notes == ["insurance not applied: invalid member_id"]
