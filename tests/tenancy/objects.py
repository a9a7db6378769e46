"""Object factories for the tenancy sweep: identifier kind -> "make one of these here".

The sweep (test_sweep.py) finds identifiers in every route (path parameters, query and body
fields named `*_id`, `*_ids` or `id`), maps each name to a *kind* with `kind_for()`, and asks the
factory of that kind for a real object on the other side (another organisation, or a location
outside the caller's scope). Factories call the owning domain's service, never the tables, so
they keep working while the domains evolve.

A domain that does not exist yet (importlib finds no service) or whose tables are not migrated
yet leaves its kinds *unseeded*: the sweep then probes with a random UUID and lists the kind in
its report, so the gap is visible instead of silently passing.

To add a kind: write `def make_<kind>(env) -> Seeded` below and register it in FACTORIES (and,
if the parameter is spelt differently, in ALIASES). Keep unique strings (names, codes) carrying
`env.marker`, so a leak of them into a response is detectable.
"""

from __future__ import annotations

import importlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import inspect, select

from praxis.platform.context import Context, system_context
from praxis.platform.db import get_engine, session_scope

PASSWORD = "correct horse battery staple"


class Unseeded(Exception):
    """The kind cannot be created here (domain missing, tables not migrated, …)."""


@dataclass
class Seeded:
    kind: str
    id: uuid.UUID
    strings: list[str] = field(default_factory=list)  # unique strings that must never leak
    extra_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class SeedEnv:
    """Where to create: an organisation and one of its locations, with a unique marker string."""

    org_id: uuid.UUID
    location_id: uuid.UUID
    marker: str
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def ctx(self) -> Context:
        return system_context(self.org_id, "tenancy-sweep")

    def unique(self, what: str) -> str:
        return f"{what} {self.marker} {secrets.token_hex(3)}"


Factory = Callable[[SeedEnv], Seeded]


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise Unseeded(f"{name} does not exist yet") from exc


def _tables(*names: str) -> None:
    existing = set(inspect(get_engine()).get_table_names())
    missing = [n for n in names if n not in existing]
    if missing:
        raise Unseeded(f"tables not migrated: {', '.join(missing)}")


# --- practice ---------------------------------------------------------------------------------


def make_org(env: SeedEnv) -> Seeded:
    """The organisation itself (org switcher, org-scoped references)."""
    return Seeded("org", env.org_id)



def make_location(env: SeedEnv) -> Seeded:
    """The location itself is the object (org B's location, or the out-of-scope loc_b)."""
    return Seeded("location", env.location_id)


# --- identity ---------------------------------------------------------------------------------


def _role_id(env: SeedEnv, key: str) -> uuid.UUID:
    service = _module("praxis.identity.service")
    for role in service.list_roles(env.ctx):
        if role.key == key:
            return role.id  # type: ignore[no-any-return]
    raise Unseeded(f"no built-in role {key}")


def _member(env: SeedEnv) -> Any:
    if "member" not in env.cache:
        service = _module("praxis.identity.service")
        name = env.unique("Member")
        email = f"member-{env.marker.lower()}-{secrets.token_hex(3)}@example.org"
        env.cache["member"] = service.invite_member(
            env.ctx, email, name, PASSWORD, [(_role_id(env, "front_desk"), env.location_id)])
        env.cache["member_strings"] = [name, email]
    return env.cache["member"]


def make_membership(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("membership", m.id, list(env.cache["member_strings"]), [m.user_id])


def make_user(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("user", m.user_id, list(env.cache["member_strings"]), [m.id])


def make_grant(env: SeedEnv) -> Seeded:
    m = _member(env)
    return Seeded("grant", m.grants[0]["id"], list(env.cache["member_strings"]), [m.id])


def make_role(env: SeedEnv) -> Seeded:
    service = _module("praxis.identity.service")
    name = env.unique("Role")
    role = service.copy_role(env.ctx, _role_id(env, "front_desk"), name)
    return Seeded("role", role.id, [name])


def make_api_client(env: SeedEnv) -> Seeded:
    service = _module("praxis.identity.service")
    name = env.unique("Bot")
    client, token = service.create_api_client(env.ctx, name, ["locations:read"])
    return Seeded("api_client", client.id, [name, token])


def make_break_glass(env: SeedEnv, reason: str | None = None) -> Seeded:
    service = _module("praxis.identity.service")
    context = _module("praxis.identity.context")
    models = _module("praxis.identity.models")
    name = env.unique("Breaker")
    email = f"breaker-{env.marker.lower()}-{secrets.token_hex(3)}@example.org"
    m = service.invite_member(env.ctx, email, name, PASSWORD,
                              [(_role_id(env, "location_manager"), env.location_id)])
    with session_scope(env.org_id) as s:
        user = s.get(models.User, m.user_id)
        member = s.scalars(select(models.Membership).where(models.Membership.id == m.id)).one()
        ctx = context.build_user_context(s, user, member, location_id=env.location_id)
    reason = reason or f"Emergency {env.marker} review of chart"
    bg = service.open_break_glass(ctx, reason, location_id=env.location_id, minutes=5)
    return Seeded("break_glass", bg.id, [name, email, reason], [m.id])


# --- patients ---------------------------------------------------------------------------------


def _patient(env: SeedEnv) -> Any:
    if "patient" not in env.cache:
        service = _module("praxis.patients.service")
        schemas = _module("praxis.patients.schemas")
        _tables("patients")
        first, last = f"Pat{env.marker}", f"Doe{secrets.token_hex(3)}"
        data = schemas.PatientCreate(first_name=first, last_name=last, dob=date(1980, 2, 3),
                                     preferred_location_id=env.location_id, confirm_duplicate=True)
        env.cache["patient"] = service.register_patient(env.ctx, data, location_id=env.location_id)
        env.cache["patient_strings"] = [first, last, env.cache["patient"].mrn]
    return env.cache["patient"]


def make_patient(env: SeedEnv) -> Seeded:
    p = _patient(env)
    return Seeded("patient", p.id, list(env.cache["patient_strings"]))


def make_payer(env: SeedEnv) -> Seeded:
    coverage = _module("praxis.patients.coverage")
    schemas = _module("praxis.patients.schemas")
    _tables("payers")
    if "payer" not in env.cache:
        name = env.unique("Payer")
        code = ("P" + env.marker + secrets.token_hex(3))[:20]
        env.cache["payer"] = coverage.create_payer(env.ctx, schemas.PayerIn(payer_code=code, name=name))
        env.cache["payer_strings"] = [name, code]
    return Seeded("payer", env.cache["payer"].id, list(env.cache["payer_strings"]))


def make_coverage(env: SeedEnv) -> Seeded:
    coverage = _module("praxis.patients.coverage")
    schemas = _module("praxis.patients.schemas")
    _tables("coverages")
    p = _patient(env)
    payer = make_payer(env)
    member_id = f"M{env.marker}{secrets.token_hex(3)}"
    cov = coverage.add_coverage(env.ctx, p.id, schemas.CoverageIn(payer_id=payer.id, member_id=member_id))
    return Seeded("coverage", cov.id, [member_id, *env.cache["patient_strings"]], [p.id])


# Parameter name (without _id/_ids) -> kind, where the name is not the kind itself.
ALIASES: dict[str, str] = {
    "member": "membership",
    "client": "api_client",
    "api_client": "api_client",
    "actor": "user",
    "survivor": "patient",
    "merged": "patient",
    "preferred_location": "location",
    "organisation": "org",
    "home_location": "location",
}

# A generic name (`id`, `event_id`, …) takes its kind from the collection segment before it.
GENERIC = {"id", "event", "item", "object"}
COLLECTIONS: dict[str, str] = {
    "break-glass": "break_glass",
    "users": "membership",
    "locations": "location",
    "roles": "role",
    "api-clients": "api_client",
    "patients": "patient",
    "payers": "payer",
    "coverages": "coverage",
}

FACTORIES: dict[str, Factory] = {
    "org": make_org,
    "location": make_location,
    "membership": make_membership,
    "user": make_user,
    "grant": make_grant,
    "role": make_role,
    "api_client": make_api_client,
    "break_glass": make_break_glass,
    "patient": make_patient,
    "payer": make_payer,
    "coverage": make_coverage,
}

# Kinds that live at the organisation level: there is no "other location" variant of them.
ORG_LEVEL_KINDS = {"org", "role", "api_client", "break_glass", "payer"}

# Fields named like identifiers that are not references to objects ("Schema.field" or "field").
NOT_IDENTIFIERS: dict[str, str] = {
    "tax_id": "the employer tax number (EIN) of a location",
    "CoverageIn.member_id": "the insurance member number on the card",
}

# Values the request-body example generator cannot guess from the JSON schema alone.
FIELD_HINTS: dict[str, object] = {
    "scopes": ["locations:read"],
    "permissions": ["locations:read"],
}


def kind_for(name: str, path: str) -> str:
    base = name
    for suffix in ("_ids", "_id"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    if base in GENERIC or name == "id":
        segments = [s for s in path.split("/") if s]
        here = "{" + name + "}"
        if here in segments:
            i = segments.index(here)
            if i > 0 and segments[i - 1] in COLLECTIONS:
                return COLLECTIONS[segments[i - 1]]
        return f"?{base}@{path}"
    return ALIASES.get(base, base)
