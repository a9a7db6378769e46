"""Demo data for `make run`: one organisation, its locations, and a demo admin.

The admin's password is generated on first load and kept in var/demo-admin.txt (never in git).
Domain data (providers, patients, appointments) comes from the `small` seed when available.
"""

from __future__ import annotations

import secrets

from praxis.platform.settings import get_settings

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@riverbend.example.org"


def load_demo(password: str | None = None) -> tuple[str, str, bool]:
    """Create the demo organisation once; returns (email, password, created)."""
    from praxis.identity.service import add_membership, create_user, seed_builtin_roles
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationIn
    from praxis.practice.service import add_location, create_organisation, find_organisation_by_slug

    secret_file = get_settings().var_dir / "demo-admin.txt"
    if find_organisation_by_slug(DEMO_SLUG) is not None:
        stored = secret_file.read_text().strip() if secret_file.exists() else "(see var/demo-admin.txt)"
        return DEMO_EMAIL, stored, False
    password = password or f"demo-{secrets.token_urlsafe(9)}"
    org = create_organisation("Riverbend Clinic Group (demo)", DEMO_SLUG)
    seed_builtin_roles(org.id)
    ctx = system_context(org.id, "demo")
    add_location(ctx, LocationIn(code="MAIN", name="Riverbend Main Street", timezone="America/New_York",
                                 address_line1="100 Main Street", city="Albany", state="NY",
                                 postal_code="12207", npi="1234567893", tax_id="12-3456789"))
    add_location(ctx, LocationIn(code="DESERT", name="Riverbend Desert Ridge", timezone="America/Phoenix",
                                 address_line1="2 Cactus Road", city="Phoenix", state="AZ",
                                 postal_code="85001"))
    user = create_user(DEMO_EMAIL, "Demo Admin", password)
    add_membership(org.id, user.id, [("org_admin", None)])
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(password + "\n")
    secret_file.chmod(0o600)
    return DEMO_EMAIL, password, True
