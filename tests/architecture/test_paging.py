"""Every list of the API pages the same way (decision 40): a GET under /api/v1 whose answer is a JSON
array declares `web.paging.paged()`, so it takes `limit`, `cursor` and `updated_since` and its
OpenAPI 200 answer documents the `Link` header. A list route added later without paging fails here.

A list is recognised twice over, so that neither way of declaring one slips through: a
`response_model` of `list[...]`, and a 200 answer whose OpenAPI schema is an array. /fhir has its
own paging (Bundle `next` links) and is not an /api/v1 list.

Every list honours `updated_since` (decision 48): its rows carry `updated_at`, unless the list is
named below as computed when asked (its rows are not stored, `updated_since` is 422) or as
write-once (rows never change, so created is updated). A new list whose rows have no `updated_at`
fails here until it gets one or is named, with its reason.
"""

from __future__ import annotations

import typing
from typing import Any

import pytest

from praxis.web.paging import is_paged
from praxis.web.routes import iter_routes


@pytest.fixture(scope="module")
def app() -> Any:
    from praxis.main import create_app

    return create_app(seal_audit=False)


@pytest.fixture(scope="module")
def openapi(app: Any) -> dict[str, Any]:
    return app.openapi()


def _is_array(op: dict[str, Any], schema: dict[str, Any]) -> bool:
    body = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return body.get("type") == "array"


def _list_routes(app: Any, openapi: dict[str, Any]) -> list[Any]:
    found = []
    for route in iter_routes(app):
        if "GET" not in (route.methods or ()) or not route.path.startswith("/api/v1/"):
            continue
        op = openapi["paths"].get(route.path_format, {}).get("get", {})
        if typing.get_origin(route.response_model) is list or _is_array(op, openapi):
            found.append(route)
    return found


# Lists computed when asked: no stored row stands behind an item, so no change time either.
COMPUTED = {
    "/api/v1/scheduling/locations/{location_id}/hours": "spans merged from the location's business hours",
    "/api/v1/scheduling/slots": "free time computed from templates, closures and bookings",
    "/api/v1/public/booking/{org_slug}/{location_code}/slots": "free time computed, as /scheduling/slots",
    "/api/v1/billing/code-sets/places-of-service": "a code table shipped with the code, not stored rows",
    "/api/v1/billing/code-sets/modifiers": "a code table shipped with the code, not stored rows",
    "/api/v1/billing/code-sets/{system}": "a search over the shared reference code tables",
    "/api/v1/billing/clean-claim-rates": "a ratio counted over the claims when asked",
    "/api/v1/care/eligibility": "patients whose problems qualify, worked out when asked",
    "/api/v1/care/billing-preview": "the month's codes computed from the time entries",
    "/api/v1/care/worklist": "the billing preview ranked by what is left to do",
}
# Lists whose stored rows never change: the route passes `updated=created` (or narrows its own time).
WRITE_ONCE = {
    "/api/v1/audit": "audit records are append-only; updated_since narrows `since`",
    "/api/v1/care/enrolments/{enrolment_id}/care-plan/versions": "a care plan version is immutable",
}


def _item(route: Any) -> Any:
    return typing.get_args(route.response_model)[0] if typing.get_origin(route.response_model) is list else None


def test_the_api_has_list_routes(app: Any, openapi: dict[str, Any]) -> None:
    # Guards the test itself: if recognition broke, every assertion below would pass on nothing.
    assert len(_list_routes(app, openapi)) >= 40


def test_every_list_route_is_paged(app: Any, openapi: dict[str, Any]) -> None:
    unpaged = [r.path for r in _list_routes(app, openapi) if not is_paged(r.dependant)]
    assert unpaged == [], f"list routes without `page: Pager = PAGED` (web.paging): {unpaged}"


def test_every_list_route_documents_cursor_updated_since_and_link(app: Any, openapi: dict[str, Any]) -> None:
    problems = []
    for route in _list_routes(app, openapi):
        op = openapi["paths"][route.path_format]["get"]
        params = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        missing = {"limit", "cursor", "updated_since"} - params
        if missing:
            problems.append(f"{route.path}: no query parameter {sorted(missing)}")
        if "Link" not in op["responses"]["200"].get("headers", {}):
            problems.append(f"{route.path}: the 200 answer does not document the Link header")
    assert problems == []


def test_api_routes_document_the_rate_limit(openapi: dict[str, Any]) -> None:
    """Bearer requests are rate limited per client: every authenticated /api/v1 operation documents
    the 429 with Retry-After."""
    missing = [f"{m.upper()} {p}" for p, item in openapi["paths"].items() if p.startswith("/api/v1/")
               and not p.startswith("/api/v1/public/") for m, op in item.items()
               if "Retry-After" not in op["responses"].get("429", {}).get("headers", {})]
    assert missing == []


def test_every_list_route_honours_updated_since_or_is_named(app: Any, openapi: dict[str, Any]) -> None:
    problems = []
    for route in _list_routes(app, openapi):
        fields = getattr(_item(route), "model_fields", {})
        if route.path in COMPUTED:
            if "updated_at" in fields:
                problems.append(f"{route.path}: named computed, yet its rows have updated_at")
        elif route.path in WRITE_ONCE:
            if "created_at" not in fields:
                problems.append(f"{route.path}: named write-once, yet its rows have no created_at")
        elif "updated_at" not in fields:
            problems.append(f"{route.path}: rows without updated_at; add the column (decision 48) or name the "
                            "list in COMPUTED / WRITE_ONCE with its reason")
    assert problems == [], "\n".join(problems)


def test_the_named_lists_exist(app: Any, openapi: dict[str, Any]) -> None:
    """A stale name would exempt a route added later under the same path without anyone deciding it."""
    paths = {r.path for r in _list_routes(app, openapi)}
    assert set(COMPUTED) | set(WRITE_ONCE) <= paths
    assert all(reason.strip() for reason in (*COMPUTED.values(), *WRITE_ONCE.values()))


def test_computed_lists_refuse_updated_since_in_the_code(app: Any, openapi: dict[str, Any]) -> None:
    """The named computed lists say so where they page (`updated=None`); a stored list must not."""
    import inspect

    for route in _list_routes(app, openapi):
        source = inspect.getsource(route.endpoint)
        refuses = "updated=None" in source or "no_time_filter" in source
        assert refuses == (route.path in COMPUTED), route.path
