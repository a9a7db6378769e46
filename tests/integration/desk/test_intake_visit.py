"""Issue 13 item 6: intake tied to the visit: the demo's starter workflow, the patient link that
pre-fills what the record knows and asks for the insurance company by name, the review queue,
and approval that says what it could not apply and offers the fix."""

from __future__ import annotations

import re
import secrets
from datetime import date

import pytest
from sqlalchemy import select

from praxis.demo import DEMO_PAYERS, load_demo_front_desk_setup
from praxis.intake import links, ratelimit
from praxis.intake import service as intake
from praxis.intake.builtin import PHQ9_OPTIONS
from praxis.patients import coverage
from praxis.patients.models import Coverage
from praxis.patients.schemas import PayerIn
from praxis.platform.db import session_scope
from tests.conftest import csrf_header
from tests.integration.scheduling.helpers import make_patient, make_world, signed_in


@pytest.fixture
def world(org):
    ratelimit.reset()
    load_demo_front_desk_setup(org.id)
    return make_world(org)


def _fill(token: str, *, payer: str, card: bool = False) -> None:
    proof = links.verify_birth_date(token, "198.51.100.7", date(1980, 5, 17))
    view = links.view_link(token, "198.51.100.7", verified=proof)
    answers = dict(view.answers)
    steps = view.steps
    links.save_link_step(token, "198.51.100.7", 0, {f["key"]: answers.get(f["key"], "") for f in steps[0]["fields"]})
    links.save_link_step(token, "198.51.100.7", 1, {"has_insurance": "yes", "payer": payer, "member_id": "W123456",
                                                    "group": "", "card_front": "", "card_back": ""})
    links.save_link_step(token, "198.51.100.7", 2, {"consent_sms": True,
                                                    "consent_treatment": {"name": "Pat Ient", "agreed": True}})
    links.save_link_step(token, "198.51.100.7", 3, {f"phq9_{i}": PHQ9_OPTIONS[0] for i in range(1, 10)})
    links.submit_link(token, "198.51.100.7")


def test_demo_setup_ships_a_starter_workflow_and_payers(world):
    wfs = intake.list_workflows(world.ctx)
    assert [w.name for w in wfs] == ["New patient intake (starter)"]
    payer_field = next(f for s in wfs[0].definition["steps"] for f in s["fields"] if f["key"] == "payer")
    assert payer_field["maps_to"] == "coverage.payer_name" and "payer id" not in payer_field["label"].lower()
    assert {p.name for p in coverage.list_payers(world.ctx)} == {name for _code, name in DEMO_PAYERS}


def test_link_prefills_the_record_after_the_birth_date_and_offers_payer_names(world, new_client):
    p = make_patient(world.org, first="Priya", last="Prefill")
    link = links.send_intake_link(world.ctx, p, world.org.loc_a.id)
    view = links.view_link(link.token, "198.51.100.7")
    assert view.answers == {} and view.knows_patient  # the link alone reveals nothing of the record
    assert links.verify_birth_date(link.token, "198.51.100.7", date(1980, 5, 18)) is None
    proof = links.verify_birth_date(link.token, "198.51.100.7", date(1980, 5, 17))
    view = links.view_link(link.token, "198.51.100.7", verified=proof)
    assert view.answers["first_name"] == "Priya" and view.answers["last_name"] == "Prefill"
    assert view.answers["dob"] == "1980-05-17" and view.answers["phone"] == "+12125550123"
    assert "Aetna" in view.payer_names
    # Over HTTP: the page offers the check, a match sets a cookie for this link only, then pre-fills.
    anon = new_client()
    anon.headers.update(csrf_header(anon))
    page = anon.get(link.path).text
    assert "Confirm your date of birth" in page and "Prefill" not in page
    r = anon.post(link.path + "/verify", data={"dob": "1980-05-17"}, follow_redirects=False)
    assert r.status_code == 303 and f"Path=/intake/l/{link.token}" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
    page = anon.get(link.path).text
    assert 'value="Prefill"' in page and "Confirm your date of birth" not in page
    page = anon.get(link.path + "?step=1").text
    assert 'list="payer-names"' in page and '<option value="Aetna">' in page
    assert "Insurance company (as printed on your card)" in page
    # The member id depends on "has insurance" in the same step: marked for live show/hide.
    assert 'data-field="member_id" data-cond-field="has_insurance" data-cond-values="[&#34;yes&#34;]"' in page


def test_review_queue_and_payer_by_name(world, make_user, login):
    p = make_patient(world.org, first="Nora", last="Named")
    link = links.send_intake_link(world.ctx, p, world.org.loc_a.id)
    _fill(link.token, payer="  blue cross BLUE shield ")
    desk = signed_in(login, make_user(world.org, "front_desk"))
    queue = desk.get("/intake/review").text
    assert "Named, Nora" in queue
    sub_id = re.search(r'href="/intake/submissions/([0-9a-f-]+)" aria-label="Review the intake of Named, Nora"',
                       queue).group(1)
    page = desk.get(f"/intake/submissions/{sub_id}").text
    assert 'id="payer-problem"' not in page  # the name matches the directory
    assert "not uploaded" in page and f"/patients/{p}/documents/None" not in page  # no link to a missing image
    r = desk.post(f"/intake/submissions/{sub_id}/review", data={"decision": "approve"}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope(world.org.id) as s:
        cov = s.scalars(select(Coverage).where(Coverage.patient_id == p)).one()
        assert cov.member_id == "W123456"
    assert "Named, Nora" not in desk.get("/intake/review").text


def test_unknown_payer_is_said_at_the_top_with_the_fix(world, make_user, login):
    p = make_patient(world.org, first="Una", last="Unknown")
    link = links.send_intake_link(world.ctx, p, world.org.loc_a.id)
    _fill(link.token, payer="Acme Mutual Health")
    desk = signed_in(login, make_user(world.org, "front_desk"))
    sub = next(s for s in intake.list_submissions(world.ctx, p))
    page = desk.get(f"/intake/submissions/{sub.id}").text
    top = page.split('<section class="card">')[0]
    assert 'id="payer-problem"' in top and "Acme Mutual Health" in top and "not in the payer directory" in top
    assert 'name="payer_id"' in page  # the fix: choose the payer while approving
    acme = coverage.create_payer(world.ctx, PayerIn(payer_code=f"AC{secrets.token_hex(2)}".upper(), name="Acme"))
    r = desk.post(f"/intake/submissions/{sub.id}/review", data={"decision": "approve", "payer_id": str(acme.id)},
                  follow_redirects=False)
    assert r.status_code == 303
    with session_scope(world.org.id) as s:
        assert s.scalars(select(Coverage.payer_id).where(Coverage.patient_id == p)).one() == acme.id
    # Approving without choosing: the notes are at the top, with where to fix it.
    q = make_patient(world.org, first="Otto", last="Other")
    link = links.send_intake_link(world.ctx, q, world.org.loc_a.id)
    _fill(link.token, payer="Nowhere Health")
    sub = next(s for s in intake.list_submissions(world.ctx, q))
    desk.post(f"/intake/submissions/{sub.id}/review", data={"decision": "approve"})
    top = desk.get(f"/intake/submissions/{sub.id}").text.split('<section class="card">')[0]
    assert 'id="apply-notes"' in top and "Nowhere Health" in top and f'href="/patients/{q}#coverage"' in top
