"""Demo data for `make run`: the `small` seed as the demo organisation, and a demo admin.

The admin's password is generated on first load and kept in var/demo-admin.txt (never in git).
"""

from __future__ import annotations

import secrets

from praxis.platform.settings import get_settings

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@riverbend.example.org"


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
    user = create_user(DEMO_EMAIL, "Demo Admin", password)
    add_membership(info["org_id"], user.id, [("org_admin", None)])
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(password + "\n")
    secret_file.chmod(0o600)
    return DEMO_EMAIL, password, True
