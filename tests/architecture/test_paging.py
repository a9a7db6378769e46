"""Every list of the API pages the same way (decision 40): a GET under /api/v1 whose answer is a JSON
array declares `web.paging.paged()`, so it takes `limit`, `cursor` and `updated_since` and its
OpenAPI 200 answer documents the `Link` header. A list route added later without paging fails here.

A list is recognised twice over, so that neither way of declaring one slips through: a
`response_model` of `list[...]`, and a 200 answer whose OpenAPI schema is an array. /fhir has its
own paging (Bundle `next` links) and is not an /api/v1 list.
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
