"""Demo data for `make run`: the `small` seed as the demo organisation, a demo admin and a
demo care coordinator (the worklist, the timer and the billing preview of the seeded care
enrolments; the admin approves the month).

The admin's password is generated on first load and kept in var/demo-admin.txt (never in git);
the care coordinator signs in with the same password.
"""

from __future__ import annotations

import secrets
import uuid

from praxis.platform.settings import get_settings

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@riverbend.example.org"
DEMO_CARE_EMAIL = "care@riverbend.example.org"


def load_demo(password: str | None = None) -> tuple[str, str, bool]:
    """Create the demo organisation once; returns (email, password, created)."""
    from praxis.identity.service import add_membership, create_user, seed_builtin_roles
    from praxis.platform.db import get_engine
    from praxis.practice.service import find_organisation_by_slug
    from praxis.seed import generate

    secret_file = get_settings().var_dir / "demo-admin.txt"
    if find_organisation_by_slug(DEMO_SLUG) is not None:
        stored = secret_file.read_text().strip() if secret_file.exists() else "(see var/demo-admin.txt)"
        return DEMO_EMAIL, stored, False
    password = password or f"demo-{secrets.token_urlsafe(9)}"
    info = generate(get_engine(), "small", 1, slug=DEMO_SLUG, name="Riverbend Clinic Group (demo)")
    seed_builtin_roles(info["org_id"])
    load_demo_front_desk_setup(info["org_id"])
    user = create_user(DEMO_EMAIL, "Demo Admin", password)
    add_membership(info["org_id"], user.id, [("org_admin", None)])
    coordinator = create_user(DEMO_CARE_EMAIL, "Demo Care Coordinator", password)
    add_membership(info["org_id"], coordinator.id, [("care_coordinator", None)])
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(password + "\n")
    secret_file.chmod(0o600)
    return DEMO_EMAIL, password, True


DEMO_PAYERS = (("60054", "Aetna"), ("00590", "Blue Cross Blue Shield"), ("87726", "UnitedHealthcare"),
               ("62308", "Cigna"), ("MCRNY", "Medicare (New York)"))


def load_demo_front_desk_setup(org_id: uuid.UUID) -> None:
    """What a clinic sets up before its first day at the desk: a starter intake workflow (the
    built-in new-patient form, for every location and visit type) and a few payers, so booking
    sends a working intake link and the patient can name their insurance company."""
    from praxis.intake.builtin import default_definition
    from praxis.intake.schemas import WorkflowIn
    from praxis.intake.service import create_workflow
    from praxis.patients.coverage import create_payer
    from praxis.patients.schemas import PayerIn
    from praxis.platform.context import system_context

    ctx = system_context(org_id, "demo setup")
    create_workflow(ctx, WorkflowIn(name="New patient intake (starter)", definition=default_definition()))
    for code, name in DEMO_PAYERS:
        create_payer(ctx, PayerIn(payer_code=code, name=name))
