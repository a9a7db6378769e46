"""The OpenAPI document says what the API really answers: RFC 9457 problems for every error."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

PROBLEM_MEDIA = "application/problem+json"
FHIR_MEDIA = "application/fhir+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="Stable URI reference of the problem kind, e.g. /problems/not-found")
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    field: str | None = Field(default=None, description="The input field at fault, when there is one")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation: one {field, message, code} per error; conflicts: the "
        "conflicting items (e.g. possible duplicate patients)")


_ERRORS = {
    "401": "Not signed in, or the bearer token is unknown, expired or revoked",
    "403": "The caller lacks the permission this operation declares",
    "404": "No such object — or one of another organisation or outside the caller's locations",
    "409": "Conflicts with the current state (duplicate, race lost, idempotency key in use)",
    "422": "Invalid input; `field` names what to fix",
    "429": "Over the API client's request limit; retry after `Retry-After` seconds",
}
_WRITE = {"post", "put", "patch", "delete"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        from praxis.web.paging import LINK_DESCRIPTION, is_paged
        from praxis.web.routes import iter_routes

        paged = {(r.path_format, m.lower()) for r in iter_routes(app) if is_paged(r.dependant) for m in r.methods}
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(components["Problem"].pop("$defs", {}))
        problem = {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        fhir_outcome = {FHIR_MEDIA: {"schema": {"type": "object", "description": "a FHIR OperationOutcome"}}}
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                if path.startswith("/fhir/"):
                    # The FHIR facade answers FHIR's own error document (docs/api.md).
                    for code in ["400", "401", "403", "404", "422"] + (["409", "412"] if method in _WRITE else []):
                        responses[code] = {"description": _ERRORS.get(code, "Error"), "content": fhir_outcome}
                    continue
                codes = ["422"]
                if path.startswith("/api/"):
                    codes += ["401", "403", "404"] + (["409"] if method in _WRITE else [])
                    if not path.startswith("/api/v1/public/"):
                        codes.append("429")
                if (path, method) in paged:
                    ok = responses.setdefault("200", {"description": "Successful Response"})
                    ok.setdefault("headers", {})["Link"] = {
                        "description": LINK_DESCRIPTION, "schema": {"type": "string"}}
                for code in codes:
                    responses[code] = {"description": _ERRORS[code], "content": problem}
                if "429" in codes:
                    responses["429"]["headers"] = {"Retry-After": {
                        "description": "seconds until the client's window resets", "schema": {"type": "integer"}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
