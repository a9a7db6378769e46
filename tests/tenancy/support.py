"""Shared machinery of the tenancy tests: route discovery (API and UI), request-body examples from
JSON schema, identifier discovery, and database snapshots of one organisation's rows.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from sqlalchemy import Table, inspect, select

from praxis.platform.db import Base, get_engine
from praxis.web.deps import declared_permissions
from praxis.web.routes import iter_routes

METHODS = ("get", "post", "put", "patch", "delete")
ID_NAME = re.compile(r"(^id$|_ids?$)")


# --- routes -----------------------------------------------------------------------------------


def full_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of *every* route, including UI routes hidden from the public schema."""
    routes = []
    for route in iter_routes(app):
        clone = copy.copy(route)
        clone.include_in_schema = True
        routes.append(clone)
    return get_openapi(title="all routes", version="0", routes=routes)


def route_index(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    out: dict[tuple[str, str], APIRoute] = {}
    for route in iter_routes(app):
        for method in route.methods or ():
            out[(method.lower(), route.path_format)] = route
    return out


def rule_of(route: APIRoute) -> str | None:
    rules = declared_permissions(route.dependant)
    return rules[0] if len(rules) == 1 else None


@dataclass
class Operation:
    method: str
    path: str
    op: dict[str, Any]
    route: APIRoute
    ui: bool  # hidden from the public schema: a screen or a form post

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations(app: FastAPI) -> Iterator[Operation]:
    doc = full_openapi(app)
    index = route_index(app)
    for path, item in sorted(doc.get("paths", {}).items()):
        for method in METHODS:
            if method in item:
                route = index[(method, path)]
                yield Operation(method, path, item[method], route, not route.include_in_schema)


# --- schemas ----------------------------------------------------------------------------------


def resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def non_null(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema, doc)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [resolve(s, doc) for s in schema[key]]
            real = [s for s in options if s.get("type") != "null"]
            merged = dict(real[0] if real else options[0])
            for k in ("title", "description", "default"):
                if k in schema:
                    merged.setdefault(k, schema[k])
            return merged
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            merged.update(resolve(part, doc))
        return merged
    return schema


def body_of(op: dict[str, Any], doc: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(content type, resolved schema) of the operation's request body, if any."""
    content = op.get("requestBody", {}).get("content", {})
    for ctype in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        if ctype in content:
            return ctype, resolve(content[ctype].get("schema", {}), doc)
    return None


_STRING_CANDIDATES = ["X1", "AB", "11", "12345", "ABC123", "1234567893", "12-3456789", "x", ""]


def _pattern_string(pattern: str, lo: int, hi: int) -> str:
    for cand in _STRING_CANDIDATES:
        if lo <= len(cand) <= hi and re.search(pattern, cand):
            return cand
    from hypothesis import find, strategies

    return find(strategies.from_regex(pattern), lambda s: lo <= len(s) <= hi)


def example(schema: dict[str, Any], doc: dict[str, Any], name: str = "", *, token: str = "") -> Any:
    """A minimal value the schema accepts (required properties only)."""
    from tests.tenancy.objects import FIELD_HINTS

    if name in FIELD_HINTS:
        hint = FIELD_HINTS[name]
        return list(hint) if isinstance(hint, list) else hint
    schema = non_null(schema, doc)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: example(v, doc, k, token=token) for k, v in props.items() if k in schema.get("required", [])}
    if kind == "array":
        n = max(1, schema.get("minItems", 0))
        return [example(schema.get("items", {}), doc, name, token=token) for _ in range(n)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1)) if "maximum" not in schema else schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    fmt = schema.get("format", "")
    if fmt == "uuid" or ID_NAME.search(name):
        return str(uuid.uuid4())
    if fmt == "date":
        return "2030-01-15"
    if fmt == "date-time":
        return "2030-01-15T15:00:00Z"
    if fmt == "email" or name == "email":
        return f"probe-{token or uuid.uuid4().hex[:8]}@example.org"
    if fmt == "binary":
        return "file"
    lo, hi = schema.get("minLength", 0), schema.get("maxLength", 200)
    if name in ("timezone", "tz"):
        return "America/New_York"
    if "pattern" in schema:
        return _pattern_string(schema["pattern"], lo, hi)
    text = f"Probe {token}".strip()
    if name == "password":
        text = "correct horse battery staple"
    text = (text + "x" * max(0, lo - len(text)))[: max(hi, lo)]
    return text


# --- identifiers ------------------------------------------------------------------------------


@dataclass
class IdField:
    where: str  # path | query | body
    name: str
    pointer: tuple[Any, ...]  # within the body: ("grants", 0, "role_id")
    many: bool
    required: bool
    kind: str = ""
    schema_name: str = ""


def identifier_fields(op: Operation, doc: dict[str, Any]) -> list[IdField]:
    found: list[IdField] = []
    for p in op.op.get("parameters", []):
        if p["in"] == "path" or (p["in"] == "query" and ID_NAME.search(p["name"])):
            many = non_null(p.get("schema", {}), doc).get("type") == "array"
            found.append(IdField(p["in"], p["name"], (), many, bool(p.get("required"))))
    body = body_of(op.op, doc)
    if body:
        _walk_body(body[1], doc, (), True, found, depth=0)
    from tests.tenancy.objects import NOT_IDENTIFIERS

    return [f for f in found if f.name not in NOT_IDENTIFIERS
            and f"{f.schema_name}.{f.name}" not in NOT_IDENTIFIERS]


def _walk_body(schema: dict[str, Any], doc: dict[str, Any], prefix: tuple[Any, ...], required: bool,
               found: list[IdField], depth: int) -> None:
    title = _ref_name(schema)
    schema = non_null(schema, doc)
    if depth > 3:
        return
    for name, sub in schema.get("properties", {}).items():
        req = required and name in schema.get("required", [])
        s = non_null(sub, doc)
        if ID_NAME.search(name):
            found.append(IdField("body", name, (*prefix, name), s.get("type") == "array", req,
                                 schema_name=title or schema.get("title", "")))
        elif s.get("type") == "object" or "properties" in s:
            _walk_body(s, doc, (*prefix, name), req, found, depth + 1)
        elif s.get("type") == "array":
            items = non_null(s.get("items", {}), doc)
            if items.get("type") == "object" or "properties" in items:
                _walk_body(items, doc, (*prefix, name, 0), req, found, depth + 1)


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return str(ref.rsplit("/", 1)[-1]) if ref else ""


def set_pointer(body: dict[str, Any], pointer: tuple[Any, ...], value: Any) -> None:
    node: Any = body
    for i, part in enumerate(pointer[:-1]):
        empty: Any = [] if isinstance(pointer[i + 1], int) else {}
        if isinstance(part, int):
            while len(node) <= part:
                node.append(empty)
            node = node[part]
        else:
            node = node.setdefault(part, empty)
    if isinstance(node, list):
        while len(node) <= pointer[-1]:
            node.append(None)
    node[pointer[-1]] = value


def drop_pointer(body: dict[str, Any], pointer: tuple[Any, ...]) -> None:
    node: Any = body
    for part in pointer[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(pointer[-1], None)


# --- snapshots --------------------------------------------------------------------------------

# Global (non-tenant) tables whose rows belong to an organisation through another table.
RELATED_GLOBAL = {"users": ("id", "memberships", "user_id")}


def tenant_tables() -> list[Table]:
    existing = set(inspect(get_engine()).get_table_names())
    return [t for t in Base.metadata.sorted_tables if "org_id" in t.c and t.name in existing]


def snapshot(org_id: uuid.UUID, *, exclude: frozenset[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of the organisation, per table (SQLAlchemy Core)."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    out: dict[str, tuple[int, str]] = {}
    with get_engine().connect() as conn:
        for t in tenant_tables():
            if t.name in exclude:
                continue
            rows = conn.execute(select(t).where(t.c.org_id == org_id)
                                .order_by(*t.primary_key.columns)).all()
            out[t.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        org = tables.get("organisations")
        if org is not None:
            rows = conn.execute(select(org).where(org.c.id == org_id)).all()
            out["organisations"] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        for name, (col, via, via_col) in RELATED_GLOBAL.items():
            if name in tables and via in tables and name not in exclude:
                t, v = tables[name], tables[via]
                ids = select(v.c[via_col]).where(v.c.org_id == org_id)
                rows = conn.execute(select(t).where(t.c[col].in_(ids)).order_by(t.c[col])).all()
                out[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def diff(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> list[str]:
    return [f"{name}: {before.get(name)} -> {after.get(name)}"
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


def signed_in(client: Any) -> Any:
    """Work around tests/conftest.py `login`: it sets the session cookie for domain "testserver",
    which httpx never sends (it stores the host as "testserver.local"); re-set it host-wide."""
    from praxis.web.middleware import SESSION_COOKIE

    token = client.cookies.get(SESSION_COOKIE)
    if token:
        client.cookies.delete(SESSION_COOKIE)
        client.cookies.set(SESSION_COOKIE, token)
    return client
