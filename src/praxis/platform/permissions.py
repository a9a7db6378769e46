"""The permission catalogue. Each domain registers its permissions at import time.

A permission is `domain:action`. Routes declare one (web.deps.permission); a test fails for
any route that declares none, or one that is not in this catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    name: str
    description: str
    # Location-bound permissions are granted per location; org-level ones only org-wide.
    location_bound: bool = True
    # Break-glass may widen this permission beyond the actor's standing scope for its window. Only
    # seeing and doing patient care opts in; administration (users, roles, grants, API clients,
    # settings, configuration) never does, so an emergency cannot be turned into a standing grant.
    break_glass: bool = False


CATALOGUE: dict[str, Permission] = {}


def register(name: str, description: str, *, location_bound: bool = True, break_glass: bool = False) -> str:
    """Add a permission to the catalogue and return its name (for use as a constant).
    `break_glass=True` only for patient care (see Permission.break_glass)."""
    domain, _, action = name.partition(":")
    if not domain or not action:
        raise ValueError(f"permission {name!r} must be 'domain:action'")
    existing = CATALOGUE.get(name)
    if existing and (existing.description, existing.location_bound, existing.break_glass) != (
            description, location_bound, break_glass):
        raise ValueError(f"permission {name!r} registered twice with different meanings")
    CATALOGUE[name] = Permission(name, description, location_bound, break_glass)
    return name


def is_known(name: str) -> bool:
    return name in CATALOGUE


# Platform-level permissions (the kernel's own features).
AUDIT_READ = register("audit:read", "Query the audit log", location_bound=False)


# Scope aliases: names an API client may carry that stand for catalogue permissions (the FHIR
# facade registers SMART system scopes such as `system/Patient.read` -> `patients:read`).
SCOPE_ALIASES: dict[str, frozenset[str]] = {}


def register_alias(scope: str, permissions: tuple[str, ...]) -> str:
    """Let API clients carry `scope`, granting exactly `permissions` (each in the catalogue)."""
    unknown = [p for p in permissions if p not in CATALOGUE]
    if unknown:
        raise ValueError(f"scope {scope!r} maps to unknown permission(s) {unknown}")
    SCOPE_ALIASES[scope] = frozenset(permissions)
    return scope
