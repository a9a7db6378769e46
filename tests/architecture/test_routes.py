"""Route registry: every route declares exactly one known access rule; public routes are reviewed;
built-in roles match the catalogue; the import contracts hold.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from praxis.platform.permissions import CATALOGUE
from praxis.web.deps import AUTHENTICATED, PUBLIC, declared_permissions
from praxis.web.routes import iter_routes

ROOT = Path(__file__).resolve().parents[2]

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
    (r"^/intake/l/\{token\}$", "patient intake link page: the single-purpose token is the credential"),
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


def test_app_has_routes(all_routes: list[Any]) -> None:
    assert len(all_routes) > 5


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


def _lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


def test_import_contracts_hold() -> None:
    """The dependency graph of DESIGN.md, as committed in pyproject.toml."""
    result = _lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
