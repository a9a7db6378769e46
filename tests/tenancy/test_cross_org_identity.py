"""People are global (one login, several organisations); what one organisation learns about a
person through its own invitations must not include what another organisation recorded."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from tests.tenancy.conftest import World
from tests.tenancy.support import signed_in


class Inviter:
    """Org A's admin, inviting people as front desk at A's first location."""

    def __init__(self, world: World, login: Callable[[Any], Any]) -> None:
        self.world = world
        self.admin = signed_in(login(world.users_a["org_admin"]))
        self.roles = {r["key"]: r["id"] for r in self.admin.get("/api/v1/roles").json()}

    def invite(self, email: str, name: str = "Invited Person") -> Any:
        return self.admin.post("/api/v1/users", json={
            "email": email, "name": name, "password": "another long passphrase",
            "grants": [{"role_id": self.roles["front_desk"], "location_id": str(self.world.a.loc_a.id)}]})


def other_orgs_person(world: World) -> tuple[str, str]:
    """(name, email) of a member of the other organisation."""
    other = world.obj("org", "membership")
    assert other is not None
    name, email = other.strings
    return name, email


def test_inviting_an_existing_email_does_not_reveal_the_other_orgs_record(
        world: World, login: Callable[[Any], Any]) -> None:
    their_name, their_email = other_orgs_person(world)
    a = Inviter(world, login)
    resp = a.invite(their_email)
    assert resp.status_code == 201, resp.text
    assert their_name not in resp.text
    assert their_name not in a.admin.get("/api/v1/users").text
    assert resp.json()["status"] == "invited"
    assert resp.json()["name"] == "Invited Person"
    assert resp.json()["mfa_enabled"] is False and resp.json()["locked"] is False


def test_a_new_login_and_an_existing_person_get_the_same_answer(
        world: World, login: Callable[[Any], Any]) -> None:
    """Inviting an email that has a login elsewhere answers exactly like inviting a new one."""
    _, their_email = other_orgs_person(world)
    a = Inviter(world, login)
    existing, new = a.invite(their_email, "Same Name"), a.invite("brand-new-person@example.org", "Same Name")
    assert existing.status_code == new.status_code == 201

    def shape(r: Any) -> dict[str, Any]:
        # updated_at: the membership's, made by this invitation either way (the clock differs, not the shape)
        body = {k: v for k, v in r.json().items() if k not in ("id", "user_id", "email", "grants", "updated_at")}
        return {**body, "grants": [re.sub(r"[0-9a-f-]{36}", "", str(g["role_key"])) for g in r.json()["grants"]]}

    assert shape(existing) == shape(new)


def test_pending_invitation_grants_nothing_until_accepted(
        world: World, login: Callable[[Any], Any]) -> None:
    from sqlalchemy import select

    from praxis.identity import auth, service
    from praxis.identity.models import Membership
    from praxis.platform.db import session_scope

    _, their_email = other_orgs_person(world)
    resp = Inviter(world, login).invite(their_email)
    user_id = uuid.UUID(resp.json()["user_id"])
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        orgs_before = {m.org_id for m in auth._memberships(s, user_id)}
    assert world.a.id not in orgs_before
    invitation = next(i for i in service.list_invitations(user_id) if i.org_id == world.a.id)
    service.accept_invitation(user_id, invitation.membership_id)
    with session_scope(None, system=True, reason="test: reads across organisations") as s:
        assert world.a.id in {m.org_id for m in auth._memberships(s, user_id)}
        assert s.scalars(select(Membership).where(Membership.id == invitation.membership_id)).one().accepted_at
