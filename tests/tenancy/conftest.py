"""Two organisations with a user per built-in role and objects of every known kind on each side."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.tenancy import objects

# Roles granted at loc_a only; every other built-in role is granted organisation-wide.
LOCAL_ROLES = ("location_manager", "front_desk", "provider", "care_coordinator")

# Sides of a probe: "org" = the other organisation (B), "location" = A's loc_b (out of scope
# for A's location-scoped users), "own" = A's loc_a (valid companions for the other parameters).
SCOPES = ("org", "location")


@dataclass
class World:
    a: Any
    b: Any
    markers: dict[str, str]
    users_a: dict[str, Any]
    users_b: dict[str, Any]
    envs: dict[str, objects.SeedEnv]
    seeded: dict[str, dict[str, objects.Seeded]] = field(default_factory=dict)
    unseeded: dict[str, str] = field(default_factory=dict)

    def obj(self, side: str, kind: str) -> objects.Seeded | None:
        """The object of `kind` on `side`, made on first use; None (and listed) when unseeded."""
        have = self.seeded.setdefault(side, {})
        if kind in have:
            return have[kind]
        if kind in self.unseeded:
            return None
        factory = objects.FACTORIES.get(kind)
        if factory is None:
            self.unseeded[kind] = "no factory in tests/tenancy/objects.py"
            return None
        try:
            have[kind] = factory(self.envs[side])
        except objects.Unseeded as exc:
            self.unseeded[kind] = str(exc)
            return None
        return have[kind]

    def seed_all(self) -> None:
        for side in ("org", "location", "own"):
            for kind in objects.FACTORIES:
                if side == "location" and kind in objects.ORG_LEVEL_KINDS:
                    continue
                self.obj(side, kind)

    def secrets_of(self, side: str) -> tuple[set[str], set[str]]:
        """(ids, unique strings) of the other side that must never appear in an answer."""
        ids: set[uuid.UUID] = set()
        strings: set[str] = {self.markers[side]}
        for s in self.seeded.get(side, {}).values():
            if isinstance(s.id, uuid.UUID):
                ids.add(s.id)
            elif len(s.id) >= 6:  # an MRN, slug or token (short codes and step numbers are not secrets)
                strings.add(s.id)
            ids.update(s.extra_ids)
            strings.update(x for x in s.strings if len(x) >= 6)
        if side == "org":
            ids.add(self.b.id)
            ids.update(loc.id for loc in self.b.locations)
            for u in self.users_b.values():
                ids.update((u.user_id, u.membership_id))
                strings.add(u.email)
            strings.add(self.b.slug)
        else:
            ids.add(self.a.loc_b.id)
        return {str(i) for i in ids} | {i.hex for i in ids}, strings


@pytest.fixture
def world(app: Any, make_org: Callable[..., Any], make_user: Callable[..., Any]) -> World:
    from praxis.identity.roles import BUILTIN_ROLES
    from praxis.platform.context import system_context
    from praxis.practice.schemas import LocationUpdate
    from praxis.practice.service import update_location

    markers = {side: f"zz{side[0].upper()}{secrets.token_hex(4)}" for side in ("own", "org", "location")}
    # Patients are organisation-wide unless this setting is on (issue 3); on, so that the sweep
    # also proves location isolation of patients and everything hanging off them.
    # Distinct MRN formats: MRNs are numbered per organisation, so with the default format B's MRN
    # would name one of A's own patients and the by-MRN probe would test nothing.
    a = make_org(f"Alpha {markers['own']}", restrict_patient_search_to_locations=True,
                 mrn_format={"prefix": "A", "width": 7})
    b = make_org(f"Beta {markers['org']}", restrict_patient_search_to_locations=True,
                 mrn_format={"prefix": "B", "width": 7})
    # loc_b of A gets its own marker: a location-scoped user of loc_a must never see it.
    update_location(system_context(a.id), a.loc_b.id, LocationUpdate(name=f"Phoenix {markers['location']}",
                                                                      address_line1=f"1 {markers['location']} Rd"))
    users_a, users_b = {}, {}
    for role in BUILTIN_ROLES:
        local = role.key in LOCAL_ROLES
        users_a[role.key] = make_user(a, role.key, a.loc_a if local else None)
        users_b[role.key] = make_user(b, role.key, b.loc_a if local else None)
    envs = {
        "org": objects.SeedEnv(b.id, b.loc_a.id, markers["org"], caller_org_id=a.id),
        "location": objects.SeedEnv(a.id, a.loc_b.id, markers["location"], caller_org_id=a.id),
        "own": objects.SeedEnv(a.id, a.loc_a.id, markers["own"], caller_org_id=a.id),
    }
    w = World(a, b, markers, users_a, users_b, envs)
    w.seed_all()
    return w
