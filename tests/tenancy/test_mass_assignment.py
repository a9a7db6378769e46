"""Mass assignment and sort injection, over every request body and list endpoint of the OpenAPI.

- Every JSON request body refuses an unknown field, and every server-owned field (org_id, id,
  created_at, created_by, seq, hash, and status where the domain requires a transition), with a
  422 problem that names the field. A body schema that *declares* a server-owned field fails too.
- Every sort-like query parameter (sort, order_by, sort_by, order) is an enum in the schema and
  refuses SQL fragments with 422 — never 500, never 200.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from tests.tenancy.support import body_of, example

SERVER_OWNED = ("org_id", "id", "created_at", "created_by", "seq", "hash")
# `status` changes only through a transition endpoint; a schema may declare it only where the
# status *is* the documented input (reviewed here: "METHOD /path").
STATUS_INPUT_ALLOWED: set[str] = set()
SORT_PARAMS = ("sort", "order_by", "sort_by", "order")
INJECTIONS = ("name; DROP TABLE patients", "name desc, (select 1)", "name' OR '1'='1", "1,(SELECT 1)")


def _path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)


def _names_field(resp: Any, name: str) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    fields = [body.get("field") or ""] + [e.get("field", "") for e in body.get("errors", [])]
    return any(f == name or f.endswith("." + name) for f in fields)


def _client(make_org: Callable[..., Any], bearer: Callable[..., Any]) -> Any:
    from praxis.platform.permissions import CATALOGUE

    return bearer(make_org("Mass Assignment Clinics"), sorted(CATALOGUE))


# Reviewed: endpoints whose job is to check a document and report its errors as data (200 with
# `valid: false` and the error's path). They write nothing; the probe must still be reported.
VALIDATORS = {"POST /api/v1/intake/definitions/validate"}


def _validator_reports(resp: Any, name: str) -> bool:
    if resp.status_code != 200:
        return False
    body = resp.json()
    return body.get("valid") is False and any(e.get("path") == name for e in body.get("errors", []))


def test_request_bodies_refuse_unknown_and_server_owned_fields(
        app: Any, make_org: Callable[..., Any], bearer: Callable[..., Any]) -> None:
    doc = app.openapi()
    client = _client(make_org, bearer)
    problems: list[str] = []
    probes = 0
    bodies = 0
    for path, item in sorted(doc["paths"].items()):
        for method, op in item.items():
            body = body_of(op, doc)
            if body is None or body[0] != "application/json":
                continue
            bodies += 1
            key = f"{method.upper()} {path}"
            schema = body[1]
            declared = set(schema.get("properties", {}))
            base = example(schema, doc, token="mass")
            if not isinstance(base, dict):
                continue
            extras = ["zz_unknown_field"]
            for name in (*SERVER_OWNED, "status"):
                if name in declared:
                    if name != "status" or key not in STATUS_INPUT_ALLOWED:
                        problems.append(f"{key}: request schema {schema.get('title')} declares "
                                        f"server-owned field {name!r}")
                else:
                    extras.append(name)
            for name in extras:
                value: Any = str(uuid.uuid4()) if name.endswith("id") or name == "created_by" else "x"
                if name == "seq":
                    value = 1
                if name == "created_at":
                    value = "2030-01-01T00:00:00Z"
                resp = client.request(method.upper(), _path(path), json={**base, name: value})
                probes += 1
                ctype = resp.headers.get("content-type", "")
                if key in VALIDATORS:
                    if not _validator_reports(resp, name):
                        problems.append(f"{key} + {name!r}: validator did not report it: {resp.text[:200]}")
                    continue
                if resp.status_code != 422 or not ctype.startswith("application/problem+json"):
                    problems.append(f"{key} + {name!r}: {resp.status_code} {ctype} {resp.text[:200]}")
                elif not _names_field(resp, name):
                    problems.append(f"{key} + {name!r}: 422 does not name the field: {resp.text[:200]}")
    print(json.dumps({"json_bodies": bodies, "probes": probes, "problems": len(problems)}))
    assert bodies > 0
    assert not problems, "\n".join(problems)


def test_sort_parameters_are_enums_and_refuse_sql(
        app: Any, make_org: Callable[..., Any], bearer: Callable[..., Any]) -> None:
    doc = app.openapi()
    client = _client(make_org, bearer)
    problems: list[str] = []
    found = 0
    for path, item in sorted(doc["paths"].items()):
        op = item.get("get")
        if not op:
            continue
        for param in op.get("parameters", []):
            if param["in"] != "query" or param["name"] not in SORT_PARAMS:
                continue
            found += 1
            key = f"GET {path} ?{param['name']}"
            schema = param.get("schema", {})
            options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
            if not any("enum" in s or "const" in s or "$ref" in s for s in options):
                problems.append(f"{key}: not a documented enum ({schema})")
            for probe in INJECTIONS:
                resp = client.get(_path(path), params={param["name"]: probe})
                if resp.status_code != 422:
                    problems.append(f"{key}={probe!r}: {resp.status_code} {resp.text[:160]}")
    print(json.dumps({"sort_parameters": found, "problems": len(problems)}))
    assert not problems, "\n".join(problems)


# Explicit `null` for a field whose column is NOT NULL reaches the database: docs/security.md, F5.
# Fields whose explicit null once answered 500 (docs/security.md, F5, fixed by PatchModel).
FORMER_NULL_500 = {f"PATCH /api/v1/locations/{{location_id}} {f}" for f in (
    "name", "timezone", "address_line1", "address_line2", "city", "state", "postal_code", "phone",
    "place_of_service", "active")}


def _null_probes(app: Any, client: Any, path_value: Callable[[str], str]) -> dict[str, int]:
    doc = app.openapi()
    answers: dict[str, int] = {}
    for path, item in sorted(doc["paths"].items()):
        for method in ("patch", "put"):
            op = item.get(method)
            body = body_of(op, doc) if op else None
            if not body or body[0] != "application/json":
                continue
            required = set(body[1].get("required", []))
            for name in body[1].get("properties", {}):
                if name in required:
                    continue
                resp = client.request(method.upper(), path_value(path), json={name: None})
                answers[f"{method.upper()} {path} {name}"] = resp.status_code
    return answers


def _own_ids(org: Any) -> Callable[[str], str]:
    return lambda path: path.replace("{location_id}", str(org.loc_a.id)).replace(
        "{", "").replace("}", "")


def test_explicit_null_never_reaches_the_database_as_a_server_error(
        app: Any, make_org: Callable[..., Any], bearer: Callable[..., Any]) -> None:
    from praxis.platform.permissions import CATALOGUE

    org = make_org("Null Clinics")
    answers = _null_probes(app, bearer(org, sorted(CATALOGUE)), _own_ids(org))
    new = sorted(k for k, status in answers.items() if status >= 500)
    print(json.dumps({"null_probes": len(answers), "server_errors": sum(s >= 500 for s in answers.values())}))
    assert answers
    assert not new, f"explicit null answered 5xx: {new}"


def test_patch_location_with_null_is_refused_with_422(
        app: Any, make_org: Callable[..., Any], bearer: Callable[..., Any]) -> None:
    from praxis.platform.permissions import CATALOGUE

    org = make_org("Null Clinics")
    answers = _null_probes(app, bearer(org, sorted(CATALOGUE)), _own_ids(org))
    known = {k: v for k, v in answers.items() if k in FORMER_NULL_500}
    assert known and all(v == 422 for v in known.values()), known
