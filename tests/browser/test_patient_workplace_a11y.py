"""Real browser, issue 13 item 9 for the screens of items 2, 7, 8 and 10: axe-core finds no
serious or critical violation on the patient page (alerts, cards, an open form, visits and
waitlist), the payer directory, the reschedule page, the audit and import screens and the MFA
enrolment; and the patient page's in-place edit works with the keyboard alone.

axe-core comes from the npm registry (node_modules/axe-core, the shared set-up of the browser
tests); CSP forbids injected scripts, so these pages run in a context that bypasses CSP for the
checker only."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from praxis.intake import service as intake
from praxis.intake.definition import PHQ9_OPTIONS, phq9_step
from praxis.intake.schemas import WorkflowIn
from praxis.platform.context import system_context
from praxis.scheduling import service as scheduling
from praxis.scheduling import waitlist
from tests.conftest import browser_login
from tests.integration.patients.helpers import cover, payer, register
from tests.integration.scheduling.helpers import future_weekday, make_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]

AXE = Path("node_modules/axe-core/axe.min.js")


@pytest.fixture
def axe_page(browser: Any, live_server: str) -> Any:
    if not AXE.exists():
        pytest.fail("axe-core is not installed: npm ci (package.json lists it with the browser tests' set-up)")
    context = browser.new_context(base_url=live_server, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def serious(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _seed(org: Any) -> tuple[Any, Any]:
    ctx = system_context(org.id)
    w = make_world(org)
    p = register(ctx, "Ines", "Marlowe", date(1975, 6, 7), location_id=org.loc_a.id, phone_mobile="2125550188")
    cover(ctx, p.id, payer(ctx, "60054", "Aetna").id)
    scheduling.book(ctx, patient_id=p.id, visit_type_id=w.visit_id, provider_id=w.provider_id,
                    location_id=org.loc_a.id, start_at=w.local(future_weekday(5), 10))
    waitlist.add_entry(ctx, patient_id=p.id, visit_type_id=w.visit_id, location_id=org.loc_a.id, priority=3)
    defn = {"title": "Mood", "review_required": True, "steps": [phq9_step()]}
    intake.create_workflow(ctx, WorkflowIn(name="Mood", location_id=org.loc_a.id, visit_type="mood",
                                           definition=defn))
    sub = intake.start_intake(ctx, p.id, org.loc_a.id, "mood")
    intake.save_answers(ctx, sub.id, {**{f"phq9_{i}": PHQ9_OPTIONS[0] for i in range(1, 9)},
                                      "phq9_9": PHQ9_OPTIONS[2], "phq9_difficulty": "Very difficult"})
    intake.submit_intake(ctx, sub.id)
    return w, p


def test_workplace_screens_have_no_serious_axe_violations(axe_page, org, make_user):
    w, p = _seed(org)
    page = axe_page
    browser_login(page, make_user(org, "org_admin"))
    found: dict[str, list[str]] = {}

    page.goto(f"/patients/{p.id}")
    page.locator("#upcoming-visits").wait_for()
    page.locator("#alerts .alert").wait_for()
    found["patient page"] = serious(page)
    page.click("#contact >> text=Edit contact")
    page.locator("#contact form").wait_for()
    page.click("#coverage summary")
    found["patient page, forms open"] = serious(page)

    appt = scheduling.list_day(w.ctx, org.loc_a.id, future_weekday(5))[0]
    for name, url in (("payer directory", "/payers"), ("visits page", f"/desk/patients/{p.id}/visits"),
                      ("reschedule", f"/desk/patients/{p.id}/visits/{appt.id}/reschedule"),
                      ("audit", f"/admin/audit?patient={p.mrn}"), ("import", "/patients/import"),
                      ("mfa enrolment", "/account/mfa/enrol")):
        page.goto(url)
        found[name] = serious(page)
    payers_page = page.goto("/payers")
    assert payers_page is not None
    page.click("#payers a.button")
    found["payer edit"] = serious(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_patient_page_edit_with_the_keyboard_alone(page, org, make_user):
    ctx = system_context(org.id)
    p = register(ctx, "Keyes", "Board", date(1980, 1, 1) - timedelta(days=3), location_id=org.loc_a.id)
    browser_login(page, make_user(org, "front_desk", org.loc_a))
    page.goto(f"/patients/{p.id}")
    page.locator("#visits-panel table, #visits-panel p").first.wait_for()
    for _ in range(80):  # Tab through the page until the card's edit link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Edit demographics":
            break
    else:
        pytest.fail("the Edit demographics link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.locator("#demographics form").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'f-first_name'")
    page.keyboard.press("Control+A")
    page.keyboard.type("Kees")
    page.keyboard.press("Enter")  # submits the form
    page.locator("#demographics >> text=Demographics saved.").wait_for()
    assert "Board, Kees" in page.locator("#demographics").inner_text()
