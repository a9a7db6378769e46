"""Helpers shared by identity's tests (integration, http and browser)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from praxis.identity import auth
from praxis.platform import clock
from praxis.web.middleware import SESSION_COOKIE

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "page has no csrf_token field"
    return m.group(1)


def enable_mfa(user_id: uuid.UUID) -> str:
    """Enrol through the services and return the TOTP secret. The enrolment is confirmed with the
    previous 30-second step's code, so the current code is still unused for the sign-in."""
    secret, _ = auth.start_mfa_enrolment(user_id)
    totp = pyotp.TOTP(secret)
    auth.confirm_mfa_enrolment(user_id, totp.at(int(clock.now().timestamp()) - 30))
    return secret


def fix_session_cookie(c: TestClient) -> TestClient:
    """tests/conftest.py's `login` stores the session cookie for domain "testserver", which the
    cookie jar never sends (it files the host as "testserver.local"); move it."""
    for ck in list(c.cookies.jar):
        if ck.name == SESSION_COOKIE and ck.domain == "testserver":
            c.cookies.jar.clear(ck.domain, ck.path, ck.name)
            c.cookies.set(SESSION_COOKIE, ck.value or "", domain="testserver.local")
    return c


def member_ctx(u: Any) -> Any:
    from praxis.identity.context import build_user_context
    from praxis.identity.models import Membership, User
    from praxis.platform.db import session_scope

    with session_scope(u.org.id) as s:
        member = s.get(Membership, {"org_id": u.org.id, "id": u.membership_id})
        return build_user_context(s, s.get(User, u.user_id), member, location_id=u.location_id)
