"""Real browser: every button is readable (the workflow editor's "Remove" was white on white),
and the navigation is grouped by work area."""

from __future__ import annotations

import pytest

from praxis.intake import service as intake
from praxis.intake.definition import default_definition
from praxis.intake.schemas import WorkflowIn
from praxis.platform.context import system_context
from tests.conftest import browser_login

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# WCAG relative luminance contrast of two computed CSS colours (rgb/rgba strings).
CONTRAST = """([fg, bg]) => {
  const parse = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [a, b] = [lum(parse(fg)), lum(parse(bg))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""

BACKGROUND = """(el) => { let n = el;
  while (n) { const c = getComputedStyle(n).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c; n = n.parentElement; }
  return 'rgb(255, 255, 255)'; }"""


def test_workflow_editor_buttons_are_readable(page, org, make_user):
    ctx = system_context(org.id)
    wf = intake.create_workflow(ctx, WorkflowIn(name="Readable", location_id=org.loc_a.id,
                                                definition=default_definition()))
    browser_login(page, make_user(org, "org_admin"))
    page.goto(f"/intake/workflows/{wf.id}")
    buttons = page.locator("main button")
    assert buttons.count() > 0
    worst = []
    for i in range(buttons.count()):
        b = buttons.nth(i)
        if not b.is_visible():
            continue
        fg = b.evaluate("(el) => getComputedStyle(el).color")
        bg = b.evaluate(BACKGROUND)
        ratio = page.evaluate(CONTRAST, [fg, bg])
        worst.append((ratio, b.inner_text().strip()))
    remove = [r for r, text in worst if text.startswith("Remove")]
    assert remove, worst
    assert min(r for r, _ in worst) >= 4.5, sorted(worst)[:3]
    assert page.locator(".nav-group-label").all_text_contents()[:2] == ["Front desk", "Patients"]
