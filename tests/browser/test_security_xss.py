"""Stored XSS: ≥100 payloads written into every free-text field reachable through the services,
then every HTML screen (discovered from the app's UI routes) opened in Chromium. Nothing may
execute (no dialog, no page error, no `window.__xss`), and template expressions must not be
evaluated (`{{7*191}}` never renders 1337).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from praxis.platform.errors import ProblemError
from praxis.web.routes import iter_routes
from tests.conftest import browser_login
from tests.tenancy import objects

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPORT = Path("test-results/xss-report.json")
JS = "window.__xss=1"


def payloads() -> list[str]:
    """Stored-XSS payloads; each ends with a unique token `PX<n>` to see where it rendered."""
    bases = [
        f"<script>{JS}</script>",
        f"<ScRiPt>{JS}</sCrIpT>",
        f"<script src=data:text/javascript,{JS}></script>",
        f'"><script>{JS}</script>',
        f"'><script>{JS}</script>",
        f"</title><script>{JS}</script>",
        f"</textarea><script>{JS}</script>",
        f"</option></select><script>{JS}</script>",
        f"<img src=x onerror={JS}>",
        f'<img src="x" onerror="{JS}">',
        f"<IMG SRC=x OnErRoR={JS}>",
        f"<svg onload={JS}>",
        f"<svg/onload={JS}>",
        f"<svg><script>{JS}</script></svg>",
        f"<body onload={JS}>",
        f"<iframe src=javascript:{JS}></iframe>",
        f"<iframe srcdoc='<script>parent.{JS}</script>'></iframe>",
        f"<a href=javascript:{JS}>click</a>",
        f"javascript:{JS}",
        f"JaVaScRiPt:{JS}",
        f"java\tscript:{JS}",
        f"<details open ontoggle={JS}>",
        f"<input autofocus onfocus={JS}>",
        f"<marquee onstart={JS}>",
        f"<video><source onerror={JS}></video>",
        f"<audio src=x onerror={JS}>",
        f"<object data=javascript:{JS}></object>",
        f"<embed src=javascript:{JS}>",
        "<math><mtext></mtext><mglyph><svg><mtext><style>"
        f"<img src=x onerror={JS}></style></mtext></svg></mglyph></math>",
        f'" onmouseover="{JS}" x="',
        f"' onmouseover='{JS}' x='",
        f'" autofocus onfocus="{JS}" x="',
        f"' autofocus onfocus='{JS}' x='",
        f'"><img src=x onerror={JS}>',
        f"'><img src=x onerror={JS}>",
        f'" style="background:url(javascript:{JS})',
        "{{7*191}}",
        "{{ 7*191 }}",
        "${7*191}",
        "#{7*191}",
        "<%= 7*191 %>",
        "{{constructor.constructor('window.__xss=1')()}}",
        "{{ config }}{{ self.__init__.__globals__ }}",
        "{% raw %}{{7*191}}{% endraw %}",
        f"<div hx-get=/ hx-trigger=load hx-on::before-request={JS}>",
        f'<div hx-on:click="{JS}">x</div>',
        f"<div data-hx-on:load={JS}></div>",
        f"<form><button formaction=javascript:{JS}>x</button></form>",
        f"<meta http-equiv=refresh content='0;url=javascript:{JS}'>",
        f"<base href=javascript:{JS}//>",
        f"<link rel=import href=data:text/html,<script>{JS}</script>>",
        f"<style>@import 'javascript:{JS}';</style>",
        f"<x style=x:expression({JS})>",
        "\u003cscript\u003ewindow.__xss=1\u003c/script\u003e",
        "\uff1cscript\uff1ewindow.__xss=1\uff1c/script\uff1e",
        "&lt;script&gt;window.__xss=1&lt;/script&gt;",
        "&#60;script&#62;window.__xss=1&#60;/script&#62;",
        "%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E",
        f"<scr<script>ipt>{JS}</scr</script>ipt>",
        f"<<script>script>{JS}<</script>/script>",
        f"<script>/*</script><script>*/{JS}</script>",
        f"\u2028<script>{JS}</script>",
        # NUL itself is refused at the edge (tests/http/test_platform_http.py); a zero-width prefix instead.
        f"\u200b<script>{JS}</script>",
        f"<noscript><p title=\"</noscript><img src=x onerror={JS}>\">",
        f"<template><script>{JS}</script></template><script>{JS}</script>",
        f"</script><script>{JS}</script>",
        f"';{JS};//",
        f'";{JS};//',
        f"`;{JS};//",
        f"\\';{JS};//",
    ]
    out: list[str] = []
    wrappers = ["{}", "Name {}", "{} tail"]
    for w in wrappers:
        for b in bases:
            out.append(w.format(b))
            if len(out) >= 150:
                break
    return [f"{p} PX{i}" for i, p in enumerate(out)]


PAYLOADS = payloads()


def _store(org: Any, marker: str) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """Write payloads into every free-text field the services offer; returns created objects."""
    from praxis.identity import service as identity
    from praxis.platform.context import system_context
    from praxis.practice import service as practice
    from praxis.practice.schemas import LocationIn, OrganisationUpdate

    ctx = system_context(org.id, "xss")
    env = objects.SeedEnv(org.id, org.loc_a.id, marker)
    made: dict[str, list[Any]] = {}
    stored: dict[str, int] = {}

    def attempt(field: str, fn: Callable[[], Any]) -> None:
        try:
            made.setdefault(field, []).append(fn())
            stored[field] = stored.get(field, 0) + 1
        except (ProblemError, ValidationError):  # refused at input is fine; counted
            stored[f"{field} (refused)"] = stored.get(f"{field} (refused)", 0) + 1

    front_desk = next(r.id for r in identity.list_roles(ctx) if r.key == "front_desk")
    for i, p in enumerate(PAYLOADS):
        attempt("user.name", lambda p=p, i=i: identity.invite_member(
            ctx, f"xss{i}-{secrets.token_hex(3)}@example.org", p[:200], "correct horse battery staple",
            [(front_desk, org.loc_a.id)]))
        attempt("role.name", lambda p=p: identity.copy_role(ctx, front_desk, p[:100]))
        attempt("api_client.name", lambda p=p: identity.create_api_client(ctx, p[:120], ["locations:read"])[0])
    for i, p in enumerate(PAYLOADS[:40]):
        attempt("location.name+address", lambda p=p, i=i: practice.add_location(ctx, LocationIn(
            code=f"X{i}", name=p[:200], address_line1=p[:200], city=p[:100])))
    attempt("organisation.name", lambda: practice.update_organisation(
        ctx, OrganisationUpdate(name=PAYLOADS[0][:200])))
    for p in PAYLOADS[:10]:
        attempt("break_glass.reason", lambda p=p: _break_glass(env, p))
    _optional_domains(ctx, org, attempt)
    return made, stored


def _break_glass(env: objects.SeedEnv, reason: str) -> Any:
    return objects.make_break_glass(env, reason=reason.ljust(10, "."))


def _optional_domains(ctx: Any, org: Any, attempt: Callable[[str, Callable[[], Any]], None]) -> None:
    """Patients (names, notes) when the domain exists; later domains add their fields here."""
    import importlib
    from datetime import date

    try:
        service = importlib.import_module("praxis.patients.service")
        schemas = importlib.import_module("praxis.patients.schemas")
    except ModuleNotFoundError:
        return
    for p in PAYLOADS[:30]:
        attempt("patient.names", lambda p=p: service.register_patient(ctx, schemas.PatientCreate(
            first_name=p[:100], last_name=p[:100], preferred_name=p[:100], dob=date(1980, 1, 1),
            emergency_name=p[:200], confirm_duplicate=True), location_id=org.loc_a.id))


def _screens(app: Any, made: dict[str, list[Any]], org: Any) -> list[str]:
    paths: list[str] = []
    for route in iter_routes(app):
        if route.include_in_schema or "GET" not in (route.methods or ()) or route.path.startswith("/login"):
            continue
        params = re.findall(r"\{([^}]+)\}", route.path)
        if not params:
            paths.append(route.path)
            continue
        kind = objects.kind_for(params[0], route.path)
        source = {"membership": "user.name", "role": "role.name", "api_client": "api_client.name",
                  "location": "location.name+address", "patient": "patient.names"}.get(kind)
        for obj in (made.get(source or "", []))[:3]:
            paths.append(route.path.replace("{" + params[0] + "}", str(obj.id)))
    return paths


def test_stored_xss_payloads_never_execute(app: Any, org: Any, make_user: Callable[..., Any],
                                           page: Any, live_server: str) -> None:
    assert len(PAYLOADS) >= 100
    made, stored = _store(org, "zzXSS")
    admin = make_user(org, "org_admin")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))
    browser_login(page, admin)
    executed: list[str] = []
    evaluated: list[str] = []
    rendered: dict[str, int] = {}
    screens = _screens(app, made, org)
    for path in screens:
        page.goto(path)
        page.wait_for_load_state("load")
        page.wait_for_timeout(50)
        if page.evaluate("() => window.__xss"):
            executed.append(path)
        html = page.content()
        text = page.inner_text("body")
        if "1337" in text:
            evaluated.append(path)
        rendered[path] = len(set(re.findall(r"PX(\d+)\b", html)))
    report = {"payloads": len(PAYLOADS), "stored": stored, "screens": len(screens),
              "payloads_rendered": sum(rendered.values()), "rendered_per_screen": rendered,
              "executed": executed, "dialogs": dialogs, "template_evaluated": evaluated,
              "page_errors": list(page.page_errors)}
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "rendered_per_screen"}, indent=2))
    assert report["payloads_rendered"] >= len(PAYLOADS), "payloads were not shown on any screen"
    assert not executed and not dialogs and not evaluated, report
    assert not page.page_errors, page.page_errors
