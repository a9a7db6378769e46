"""Route registry: every route declares exactly one known access rule; public routes are reviewed;
built-in roles match the catalogue. (The import contracts: test_import_contracts.py.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from praxis.platform.permissions import CATALOGUE
from praxis.web.deps import AUTHENTICATED, PUBLIC, declared_permissions
from praxis.web.routes import iter_routes

SRC = Path(__file__).resolve().parents[2] / "src" / "praxis"

# Reviewed allow-list of routes reachable without signing in. A new public route fails this test
# until someone reviews it and adds its pattern here (with the reason).
PUBLIC_ALLOWED: tuple[tuple[str, str], ...] = (
    (r"^/healthz$", "liveness probe"),
    (r"^/readyz$", "readiness probe"),
    (r"^/docs$", "API docs page (the schema itself is FastAPI's, not an APIRoute)"),
    (r"^/login(/.*)?$", "sign-in, MFA step and password reset pages"),
    (r"^/logout$", "sign-out (works with an expired session too)"),
    (r"^/account/mfa/enrol$", "MFA enrolment during a pending sign-in (password passed, no second factor "
                              "yet); identity.ui._enrol_user refuses users who already have one"),
    (r"^/intake/l/\{token\}(/verify)?$", "patient intake link page (and its date-of-birth check before pre-filling): "
     "the single-purpose token is the credential"),
    (r"^/api/v1/intake/link/\{token\}(/submit|/steps/\{step\})?$",
     "patient intake link API: the single-purpose token is the credential"),
    (r"^/api/v1/public/reminder-replies/\{[a-z_]+\}$", "reminder reply: the signed token is the credential"),
    (r"^/api/v1/public/calendars/\{[a-z_]+\}\.ics$", "provider ICS feed: signed token; initials only"),
    (r"^/(book|booking)/\{[a-z_]+\}(/.*)?$", "online booking pages of one organisation"),
    (r"^/api/v1/public/booking/\{[a-z_]+\}(/.*)?$", "online booking API of one organisation"),
    (r"^/fhir/R4/metadata$", "FHIR CapabilityStatement: what the server supports, no data (FHIR expects it open)"),
)


@pytest.fixture(scope="module")
def all_routes() -> list[Any]:
    from praxis.main import create_app

    return list(iter_routes(create_app(seal_audit=False)))


def _describe(route: Any) -> str:
    return f"{','.join(sorted(route.methods or ()))} {route.path}"


def test_every_router_in_the_code_is_mounted_whole(all_routes: list[Any]) -> None:
    """Every router an `api.py`/`ui.py` (or web/system.py) defines is in the app with all its
    routes, so the access-rule tests below see every route the code has, and a domain whose router
    is not wired (wiring.routers) fails here rather than answering 404 in production."""
    import importlib

    from fastapi.routing import APIRoute, APIRouter

    mounted = {id(route) for route in all_routes}
    # A router that outgrew one module is a package (ui/__init__.py + ui/<screen>.py): each of its
    # modules may define routers, and the package as a whole must define at least one.
    patterns = ("*/api.py", "*/ui.py", "*/api/*.py", "*/ui/*.py")
    modules = [*sorted(p for pattern in patterns for p in SRC.glob(pattern)), SRC / "web" / "system.py"]
    seen, missing = 0, []
    by_package: dict[str, int] = {}
    counted: set[int] = set()  # a package's modules share one router: count its routes once
    for path in modules:
        parts = path.relative_to(SRC).with_suffix("").parts
        name = "praxis." + ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        routers = [v for v in vars(importlib.import_module(name)).values()
                   if isinstance(v, APIRouter) and id(v) not in counted]
        counted.update(id(r) for r in routers)
        top = "praxis." + ".".join(parts[:2])
        by_package[top] = by_package.get(top, 0) + len(routers)
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute):
                    seen += 1
                    if id(route) not in mounted:
                        missing.append(f"{name}: {_describe(route)}")
    assert not [pkg for pkg, n in by_package.items() if n == 0], f"defines no router: {by_package}"
    assert not missing, f"routes defined but not mounted (wiring.routers): {missing}"
    assert seen == len(all_routes), "the app has routes no api.py/ui.py/web/system.py defines"


def test_every_route_declares_exactly_one_known_access_rule(all_routes: list[Any]) -> None:
    problems = []
    for route in all_routes:
        rules = declared_permissions(route.dependant)
        if not rules:
            problems.append(f"{_describe(route)}: declares no access rule (deny by default)")
        elif len(rules) > 1:
            problems.append(f"{_describe(route)}: declares {len(rules)} access rules {rules}")
        elif rules[0] not in (PUBLIC, AUTHENTICATED) and rules[0] not in CATALOGUE:
            problems.append(f"{_describe(route)}: permission {rules[0]!r} is not in the catalogue")
    assert not problems, "\n".join(problems)


def test_public_routes_are_on_the_reviewed_allow_list(all_routes: list[Any]) -> None:
    unreviewed = [
        _describe(route) for route in all_routes
        if declared_permissions(route.dependant) == [PUBLIC]
        and not any(re.match(pattern, route.path) for pattern, _ in PUBLIC_ALLOWED)
    ]
    assert not unreviewed, ("public routes not on the reviewed allow-list in "
                            f"tests/architecture/test_routes.py: {unreviewed}")


def test_allow_list_patterns_are_anchored() -> None:
    for pattern, reason in PUBLIC_ALLOWED:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        assert reason


def test_every_builtin_role_pattern_matches_a_catalogue_permission() -> None:
    from praxis import wiring
    from praxis.identity.roles import BUILTIN_ROLES, expand

    wiring.import_all()
    dead = [f"{role.key}: {pattern}" for role in BUILTIN_ROLES for pattern in role.patterns
            if not expand([pattern]) and not _planned(pattern)]
    assert not dead, f"built-in role patterns matching no catalogue permission: {dead}"


# Permission prefixes of domains that DESIGN.md plans but that are not written yet: their patterns
# in the built-in roles may match nothing *until the package exists*; then they must match.
PLANNED_DOMAINS = {"billing": "praxis.billing", "care": "praxis.care", "analytics": "praxis.analytics"}


def _planned(pattern: str) -> bool:
    import importlib.util

    module = PLANNED_DOMAINS.get(pattern.partition(":")[0])
    return module is not None and importlib.util.find_spec(module) is None
