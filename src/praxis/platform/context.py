"""Who is acting, for which organisation, where, and with which permissions.

Every domain receives this; no domain imports identity to learn who the actor is.
A permission maps to `None` (whole organisation) or the set of location ids it covers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from praxis.platform.errors import Forbidden, NotFound

Scope = frozenset[uuid.UUID] | None


@dataclass(frozen=True)
class Context:
    org_id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_type: str  # "user" | "api_client" | "system" | "patient_link"
    actor_name: str = ""
    roles: tuple[str, ...] = ()
    permissions: Mapping[str, Scope] = field(default_factory=dict)
    location_id: uuid.UUID | None = None  # the location the user is working at now
    client_ip: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    # Break-glass: permissions widened beyond the normal scope, with a mandatory reason.
    break_glass_reason: str | None = None
    break_glass_until: datetime | None = None
    reason: str | None = None
    # The permissions of the standing grants alone, when break-glass widened `permissions`
    # (None: nothing was widened). Administration is judged on these (see `standing`).
    standing_permissions: Mapping[str, Scope] | None = None

    # --- checks -------------------------------------------------------------------------------

    def has(self, permission: str) -> bool:
        """True when the permission is held anywhere (some location or org-wide)."""
        return permission in self.permissions

    def scope(self, permission: str) -> Scope:
        """`None` for org-wide; otherwise the location ids the permission covers."""
        if permission not in self.permissions:
            return frozenset()
        return self.permissions[permission]

    def can(self, permission: str, location_id: uuid.UUID | None = None) -> bool:
        if permission not in self.permissions:
            return False
        scope = self.permissions[permission]
        if scope is None:
            return True
        if location_id is None:
            return False  # an org-level object needs an org-wide grant
        return location_id in scope

    def require(self, permission: str, location_id: uuid.UUID | None = None, *,
                what: str = "object") -> None:
        """Raise unless allowed. Out of scope answers 404 so existence never leaks."""
        if not self.has(permission):
            raise Forbidden(f"Permission {permission} required")
        if not self.can(permission, location_id):
            raise NotFound(f"No such {what}")

    def require_any_location(self, permission: str, location_ids: Iterable[uuid.UUID | None], *,
                             what: str = "object") -> None:
        """Allowed when the permission covers at least one of the object's locations."""
        if not self.has(permission):
            raise Forbidden(f"Permission {permission} required")
        scope = self.permissions[permission]
        if scope is None:
            return
        if not any(loc in scope for loc in location_ids if loc is not None):
            raise NotFound(f"No such {what}")

    @property
    def origin(self) -> str:
        """The system a change comes from: a system context's name (`hl7:<app>|<facility>` for a
        message from an HL7 sender, `system` for the worker), '' for a person, an API client or a
        patient. Domain events carry it, so a consumer knows where the change came from when it
        runs, whatever happened to the record since (HL7 loop prevention, decision 54)."""
        return self.actor_name if self.actor_type == "system" else ""

    @property
    def is_break_glass(self) -> bool:
        return self.break_glass_reason is not None

    def standing(self) -> Context:
        """This context judged on standing grants only: what break-glass widened is dropped (the
        break-glass flag and reason stay, so the audit still says the window was open).
        Administration (users, grants, roles, API clients, settings) calls this first, so an
        emergency window never becomes something one may grant or keep."""
        if self.standing_permissions is None:
            return self
        return replace(self, permissions=self.standing_permissions, standing_permissions=None)

    def with_reason(self, reason: str | None) -> Context:
        return replace(self, reason=reason)


def system_context(org_id: uuid.UUID, name: str = "system") -> Context:
    """A context for the worker, the CLI and migrations: every permission, org-wide."""
    from praxis.platform.permissions import CATALOGUE

    return Context(
        org_id=org_id,
        actor_id=None,
        actor_type="system",
        actor_name=name,
        roles=("system",),
        permissions={p: None for p in CATALOGUE},
    )
