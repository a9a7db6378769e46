"""axe-core in the browser tests: `assert_accessible(page)` runs axe (npm `axe-core`, pinned in
package.json / package-lock.json, loaded from node_modules) on the current page and fails on any
serious or critical violation, naming the rule, the elements and how to fix it.

The script is evaluated through Playwright (the DevTools protocol), not added as a <script> tag:
the app's CSP (`script-src 'self'`) rightly refuses inline scripts, and the test must not weaken
the page it judges.

Use it from any browser test:

    from tests.browser.axe import assert_accessible
    page.goto("/desk/day-sheet")
    assert_accessible(page)                       # the whole page
    assert_accessible(page, include="#day-sheet")  # one region
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BLOCKING = ("serious", "critical")


@cache
def axe_source() -> str:
    path = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `npm ci` (axe-core is pinned in package.json)")
    return path.read_text(encoding="utf-8")


def run_axe(page: Any, *, include: str | None = None) -> list[dict[str, Any]]:
    """All axe violations on the page (or inside the `include` selector), WCAG 2.x A/AA rules and
    axe's best practices."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    options = {"resultTypes": ["violations"]}
    result = page.evaluate(
        "([ctx, opts]) => window.axe.run(ctx || document, opts)", [include, options])
    return list(result["violations"])


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n.get("target", []))) for n in v.get("nodes", [])[:5]]
        summary = (v.get("nodes") or [{}])[0].get("failureSummary", "").replace("\n", " ")
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v.get('nodes', []))} elements, e.g. "
                     f"{json.dumps(targets)}); {summary}")
    return "\n".join(lines)


def assert_accessible(page: Any, *, include: str | None = None, label: str | None = None) -> None:
    """Fail on any serious or critical axe violation on the current page."""
    bad = blocking(run_axe(page, include=include))
    where = label or page.url
    assert not bad, f"axe: {len(bad)} serious/critical violation(s) on {where}:\n{describe(bad)}"
