"""Built-in roles. Their permission lists are patterns (`patients:*`) expanded against the
catalogue when a context is built, so a new domain's permissions reach the built-ins without a
data migration. An organisation copies a built-in to edit it; copies hold explicit names.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from praxis.platform.permissions import CATALOGUE, SCOPE_ALIASES


@dataclass(frozen=True)
class BuiltinRole:
    key: str
    name: str
    description: str
    patterns: tuple[str, ...]


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole("org_admin", "Organisation admin", "Everything in the organisation", ("*",)),
    BuiltinRole("location_manager", "Location manager", "Runs one or more locations: staff, schedule, intake",
                ("locations:read", "locations:manage", "users:*", "patients:*", "documents:*", "intake:*",
                 "scheduling:*", "waitlist:*", "billing:read", "billing:collect", "billing:charge", "care:read",
                 # care: what the provider and care-coordinator roles hold, so a manager may grant them
                 "care:log", "care:enrol", "care:approve", "care:plan",
                 "analytics:read",
                 "breakglass:use")),
    BuiltinRole("front_desk", "Front desk", "Registration, booking, check-in and payments at the desk",
                ("locations:read", "patients:read", "patients:write", "patients:alerts", "documents:*", "intake:read",
                 "intake:fill", "intake:review", "scheduling:read", "scheduling:book", "scheduling:checkin",
                 "waitlist:*", "billing:collect")),
    BuiltinRole("biller", "Biller", "Revenue cycle: charges, claims, remittances, statements",
                ("locations:read", "patients:read", "documents:read", "scheduling:read", "billing:*",
                 "payers:manage")),
    BuiltinRole("care_coordinator", "Care coordinator", "CCM/PCM/RPM enrolment and time tracking",
                ("locations:read", "patients:read", "intake:read", "scheduling:read", "care:read", "care:log",
                 "care:enrol", "care:plan")),
    BuiltinRole("provider", "Provider", "Clinicians: schedule, intake answers, superbills, care minutes",
                ("locations:read", "patients:read", "patients:alerts", "documents:read", "intake:read",
                 "scheduling:read", "care:read", "care:log", "care:approve", "care:plan", "billing:charge",
                 "breakglass:use")),
    BuiltinRole("analyst", "Analyst", "Reports and KPIs, no patient detail", ("locations:read", "analytics:*")),
    BuiltinRole("integration", "Integration", "Template for API clients: EHR middleware, portals, bots",
                ("locations:read", "patients:read", "patients:write", "intake:read", "scheduling:read",
                 "scheduling:book", "billing:charge")),
)

BUILTIN_BY_KEY = {r.key: r for r in BUILTIN_ROLES}


def expand(patterns: list[str] | tuple[str, ...]) -> set[str]:
    """Permission names matched by a role's patterns (unknown names are dropped). A registered scope
    alias (an API client's `system/Patient.read`) stands for the permissions it maps to."""
    names: set[str] = set()
    for pattern in patterns:
        if pattern in SCOPE_ALIASES:
            names.update(SCOPE_ALIASES[pattern])
        elif "*" in pattern:
            names.update(p for p in CATALOGUE if fnmatchcase(p, pattern))
        elif pattern in CATALOGUE:
            names.add(pattern)
    return names
