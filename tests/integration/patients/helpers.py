"""Small builders shared by the patients and intake integration tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from praxis.patients import coverage, service
from praxis.patients.schemas import CoverageIn, PatientCreate, PayerIn
from praxis.platform.context import Context


def register(ctx: Context, first: str = "Ana", last: str = "García", dob: date = date(1984, 5, 6),
             location_id: Any = None, **extra: Any) -> Any:
    data = PatientCreate(first_name=first, last_name=last, dob=dob, confirm_duplicate=True, **extra)
    return service.register_patient(ctx, data, location_id=location_id)


def payer(ctx: Context, code: str = "60054", name: str = "Aetna", indicator: str = "CI") -> Any:
    return coverage.create_payer(ctx, PayerIn(payer_code=code, name=name, claim_filing_indicator=indicator))


def cover(ctx: Context, patient_id: Any, payer_id: Any, member_id: str = "W123456789", priority: int = 1) -> Any:
    return coverage.add_coverage(ctx, patient_id, CoverageIn(payer_id=payer_id, member_id=member_id,
                                                             priority=priority))


def user_ctx(make_user: Any, org: Any, role: str, location: Any = None) -> Context:
    """The context of a new user with a built-in role (org-wide, or at one location)."""
    from sqlalchemy import select

    from praxis.identity.context import build_user_context
    from praxis.identity.models import Membership, User
    from praxis.platform.db import session_scope

    u = make_user(org, role, location)
    with session_scope(org.id) as s:
        user = s.get(User, u.user_id)
        member = s.scalars(select(Membership).where(Membership.id == u.membership_id)).one()
        return build_user_context(s, user, member, location_id=u.location_id)


def ensure_routes(app: Any) -> Any:
    """Include the patients/intake routers when wiring.py does not (yet) include them."""
    from praxis.intake import api as intake_api
    from praxis.intake import ui as intake_ui
    from praxis.patients import api as patients_api
    from praxis.patients import ui as patients_ui

    have = {getattr(r, "path", None) for r in app.routes}
    for router in (patients_api.router, intake_api.router, patients_ui.router, intake_ui.router):
        if not any(getattr(r, "path", None) in have for r in router.routes):
            app.include_router(router)
    return app


def staff(login: Any, user: Any) -> Any:
    """`login(user)`, re-setting the session cookie for the host name httpx's jar really uses.

    (tests/conftest.py sets it for domain "testserver"; the cookie jar files the host as
    "testserver.local", so the cookie would never be sent.)
    """
    from praxis.web.middleware import SESSION_COOKIE

    c = login(user)
    token = c.cookies.get(SESSION_COOKIE)
    c.cookies.delete(SESSION_COOKIE)
    c.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    return c
