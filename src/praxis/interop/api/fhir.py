"""The FHIR R4 facade under /fhir/R4: read and search over the domains' service functions.

Thin like any api.py: parse FHIR parameters, call the owning domain's service (which checks
permission and location scope and writes the audit record), build resources with formats.fhir.
Every error answers an OperationOutcome (web.problems renders them for this prefix).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from praxis.formats.fhir import build
from praxis.interop import fhir_search
from praxis.interop.fhir_search import INCLUDES, SEARCH
from praxis.interop.permissions import SMART_SCOPES, scope_name
from praxis.patients import coverage as coverages
from praxis.patients import search as patient_search
from praxis.patients import service as patients
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, NotFound, Unauthenticated, ValidationProblem
from praxis.practice import service as practice
from praxis.scheduling import search as appointment_search
from praxis.scheduling import service as scheduling
from praxis.scheduling import setup as scheduling_setup
from praxis.web import idempotent
from praxis.web.deps import current_context, public
from praxis.web.routes import Router

public_metadata = public
STARTED = datetime.now(UTC).replace(microsecond=0)
CONDITIONAL_CREATE: set[str] = set()
UPDATE_IF_MATCH: set[str] = set()
VERSIONED = {"Appointment"}  # resources whose domain keeps a version (meta.versionId, ETag)

PREFIX = "/fhir/R4"
FHIR_JSON = "application/fhir+json"

class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


router = Router(prefix=PREFIX, tags=["fhir"], default_response_class=FhirJSONResponse)

def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def render_error(request: Request, status: int, detail: str, field: str | None) -> Response:
    """web.problems renderer: every error under /fhir answers an OperationOutcome."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return fhir_response(build.operation_outcome(status, detail, expression=field), status, headers)


def scope(resource: str, interaction: str) -> Callable[[Request], Context]:
    """Dependency: the SMART scope `system/<resource>.<interaction>`, checked as the catalogue
    permission it maps to (interop.permissions)."""
    perm = SMART_SCOPES[(resource, interaction)]

    def require_scope(request: Request) -> Context:
        ctx = current_context(request)
        if ctx is None:
            raise Unauthenticated("Send an API client bearer token")
        if not ctx.has(perm):
            raise Forbidden(f"Scope {scope_name(resource, interaction)} (permission {perm}) required")
        idempotent.gate(request, ctx)
        return ctx

    require_scope.permission = perm  # type: ignore[attr-defined]
    return require_scope


# --- parameters ---------------------------------------------------------------------------------


class Params(fhir_search.Params):
    """The query string of a search route (fhir_search.Params), and its paging."""

    def __init__(self, request: Request, resource: str) -> None:
        super().__init__(resource, request.query_params.multi_items())
        self.request = request

    def page(self, rows: list[Any]) -> tuple[list[Any], str | None]:
        """Rows of this page (services were asked for count+1) and the next link, if any."""
        if len(rows) <= self.count:
            return rows, None
        query = dict(self.values)
        query["_count"] = str(self.count)
        query["_offset"] = str(self.offset + self.count)
        pairs = [*query.items(), *(("_include", i) for i in self.includes)]
        return rows[:self.count], f"{base_url(self.request)}{self.request.url.path.removeprefix(PREFIX)}?" \
                                  f"{urlencode(pairs)}"


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def searchset(request: Request, params: Params, rows: list[Any], to_fhir: Callable[[Any], dict[str, Any]],
              include: Callable[[list[Any]], list[dict[str, Any]]] | None = None) -> Response:
    rows, next_url = params.page(rows)
    included = include(rows) if include and params.includes else []
    return fhir_response(build.bundle_searchset([to_fhir(r) for r in rows], base=base_url(request),
                                                self_url=str(request.url), next_url=next_url, included=included))


def parse_id(raw: str, what: str) -> uuid.UUID:
    """A logical id; anything that is not one of ours is simply not found."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No such {what}") from None


# --- Patient ----------------------------------------------------------------------------------


@router.get("/Patient/{patient_id}")
def read_patient(patient_id: str, ctx: Context = Depends(scope("Patient", "read"))) -> Response:
    return fhir_response(build.patient(patients.get_patient(ctx, parse_id(patient_id, "patient"))))


PATIENT_SEARCH = set(SEARCH["Patient"])


@router.get("/Patient")
def search_patient(request: Request, ctx: Context = Depends(scope("Patient", "read"))) -> Response:
    """Search patients (fhir_search.PatientQuery). Every criterion given must match."""
    p = Params(request, "Patient")
    q = fhir_search.patient_query(p)
    if not p.values.keys() & PATIENT_SEARCH:
        raise ValidationProblem("Give at least one of: " + ", ".join(sorted(PATIENT_SEARCH)), field="name",
                                status=400)
    rows = patient_search.find_patient_records(ctx, **q.criteria(), limit=p.count + 1, offset=p.offset)
    return searchset(request, p, rows, build.patient)


# --- Practitioner, Organization, Location -------------------------------------------------------


@router.get("/Practitioner/{practitioner_id}")
def read_practitioner(practitioner_id: str, ctx: Context = Depends(scope("Practitioner", "read"))) -> Response:
    pid = parse_id(practitioner_id, "practitioner")
    for provider, _locs in scheduling_setup.list_providers(ctx, active_only=False):
        if provider.id == pid:
            return fhir_response(build.practitioner(provider))
    raise NotFound("No such practitioner")


@router.get("/Practitioner")
def search_practitioner(request: Request, ctx: Context = Depends(scope("Practitioner", "read"))) -> Response:
    """Search practitioners: name (prefix of first or last name), identifier (NPI), location."""
    p = Params(request, "Practitioner")
    q = fhir_search.practitioner_query(p)
    rows = [prov for prov, locs in scheduling_setup.list_providers(ctx, location_id=q.location_id, active_only=False)
            if q.match((prov, locs))]
    return searchset(request, p, rows[p.offset:p.offset + p.count + 1], build.practitioner)


@router.get("/Organization/{org_id}")
def read_organization(org_id: str, ctx: Context = Depends(scope("Organization", "read"))) -> Response:
    if parse_id(org_id, "organization") != ctx.org_id:
        raise NotFound("No such organization")
    return fhir_response(build.organization(practice.get_organisation(ctx)))


@router.get("/Organization")
def search_organization(request: Request, ctx: Context = Depends(scope("Organization", "read"))) -> Response:
    """The caller's own organisation (a token sees exactly one)."""
    p = Params(request, "Organization")
    rows = [practice.get_organisation(ctx)] if p.offset == 0 else []
    return searchset(request, p, rows, build.organization)


@router.get("/Location/{location_id}")
def read_location(location_id: str, ctx: Context = Depends(scope("Location", "read"))) -> Response:
    return fhir_response(build.location(practice.get_location(ctx, parse_id(location_id, "location")), ctx.org_id))


@router.get("/Location")
def search_location(request: Request, ctx: Context = Depends(scope("Location", "read"))) -> Response:
    """Search locations: name (prefix), identifier (location code or NPI), status."""
    p = Params(request, "Location")
    q = fhir_search.location_query(p)
    rows = [r for r in practice.list_locations(ctx, include_inactive=q.status == "inactive") if q.match(r)]
    return searchset(request, p, rows[p.offset:p.offset + p.count + 1], lambda r: build.location(r, ctx.org_id))


# --- Appointment ----------------------------------------------------------------------------------


def appointment_headers(resource: dict[str, Any]) -> dict[str, str]:
    version = resource.get("meta", {}).get("versionId")
    return {"ETag": f'W/"{version}"'} if version else {}


@router.get("/Appointment/{appointment_id}")
def read_appointment(appointment_id: str, ctx: Context = Depends(scope("Appointment", "read"))) -> Response:
    resource = build.appointment(scheduling.get_appointment(ctx, parse_id(appointment_id, "appointment")))
    return fhir_response(resource, headers=appointment_headers(resource))


@router.get("/Appointment")
def search_appointment(request: Request, ctx: Context = Depends(scope("Appointment", "read"))) -> Response:
    """Search appointments: patient, date (eq/ge/gt/le/lt), status (FHIR codes, comma-separated),
    location, practitioner. A patient or a date is required."""
    p = Params(request, "Appointment")
    q = fhir_search.appointment_query(p)
    if q.patient_id is None and q.since is None and q.until is None:
        raise ValidationProblem("Give patient or date", field="patient", status=400)
    rows = appointment_search.find_appointments(ctx, **q.criteria(), limit=p.count + 1, offset=p.offset)

    def include(page: list[Any]) -> list[dict[str, Any]]:
        """The page's patients and practitioners, each once, read through their services (audited)."""
        out: list[dict[str, Any]] = []
        if "Appointment:patient" in p.includes:
            for pid in dict.fromkeys(a.patient_id for a in page):
                out.append(build.patient(patients.get_patient(ctx, pid)))
        if "Appointment:practitioner" in p.includes:
            wanted = {a.provider_id for a in page}
            out += [build.practitioner(prov) for prov, _ in scheduling_setup.list_providers(ctx, active_only=False)
                    if prov.id in wanted]
        return out

    return searchset(request, p, rows, build.appointment, include)


# --- Coverage -------------------------------------------------------------------------------------


@router.get("/Coverage/{coverage_id}")
def read_coverage(coverage_id: str, ctx: Context = Depends(scope("Coverage", "read"))) -> Response:
    return fhir_response(build.coverage(coverages.get_coverage(ctx, parse_id(coverage_id, "coverage"))))


@router.get("/Coverage")
def search_coverage(request: Request, ctx: Context = Depends(scope("Coverage", "read"))) -> Response:
    """A patient's coverages: patient or beneficiary (required), status."""
    p = Params(request, "Coverage")
    q = fhir_search.coverage_query(p)
    if q.patient_id is None:
        raise ValidationProblem("Give patient (or beneficiary)", field="patient", status=400)
    rows = [r for r in coverages.list_coverages(ctx, q.patient_id) if q.match(r)]
    return searchset(request, p, rows[p.offset:p.offset + p.count + 1], build.coverage)


# --- metadata -------------------------------------------------------------------------------------

_INTERACTIONS = {("GET", True): "read", ("GET", False): "search-type", ("POST", False): "create",
                 ("PUT", True): "update"}


def implemented() -> dict[str, list[str]]:
    """Resource type -> interactions, read off this router's routes (so metadata never claims more)."""
    found: dict[str, list[str]] = {}
    for route in router.routes:
        path = getattr(route, "path", "").removeprefix(PREFIX + "/")
        resource, _, rest = path.partition("/")
        if not resource[:1].isupper() or rest.startswith("$"):
            continue  # operations ($export) are declared as operations, not interactions
        for method in sorted(getattr(route, "methods", ()) or ()):
            interaction = _INTERACTIONS.get((method, bool(rest)))
            if interaction and interaction not in found.setdefault(resource, []):
                found[resource].append(interaction)
    return found


_EXPORT_PARAMETERS = ("Parameters: _type, _since (resources changed at or after it; Organization always; the "
                      "manifest's deleted lists Schedules removed since then, the only exported type deleted "
                      "outright), "
                      "_outputFormat (application/fhir+ndjson), _typeFilter (Type?query: the search parameters "
                      "this statement declares for that type; several for one type are OR'ed).")


@router.get("/metadata")
def metadata(request: Request, _ctx: Any = Depends(public_metadata)) -> Response:
    """The CapabilityStatement, generated from the routes above (public, as FHIR expects)."""
    from praxis import __version__

    resources = []
    for resource, interactions in sorted(implemented().items()):
        entry: dict[str, Any] = {"type": resource, "interaction": [{"code": i} for i in interactions]}
        # versioned-update: If-Match honoured; versioned: versionId/ETag only; no-version: neither.
        entry["versioning"] = ("versioned-update" if resource in UPDATE_IF_MATCH and "update" in interactions
                               else "versioned" if resource in VERSIONED else "no-version")
        entry["readHistory"] = False
        if "update" in interactions:
            entry["updateCreate"] = False
        if "create" in interactions:
            entry["conditionalCreate"] = resource in CONDITIONAL_CREATE
        if resource in INCLUDES and "search-type" in interactions:
            entry["searchInclude"] = sorted(INCLUDES[resource])
        if "search-type" in interactions:
            entry["searchParam"] = [{"name": n, "type": t} for n, t in sorted(SEARCH.get(resource, {}).items())]
        resources.append(entry)
    cs = build.capability_statement(base=base_url(request), software_version=__version__,
                                    date_=STARTED.isoformat(), resources=resources)
    paths = {getattr(r, "path", "") for r in router.routes}
    if PREFIX + "/$export" in paths:
        from praxis.interop import export

        cs["instantiates"] = ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]
        cs["rest"][0]["operation"] = [{
            "name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
            "documentation": f"Exports {', '.join(export.EXPORT_TYPES)}. {_EXPORT_PARAMETERS}"}]
        for entry in resources:
            if entry["type"] == "Patient" and PREFIX + "/Patient/$export" in paths:
                entry["operation"] = [{
                    "name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                    "documentation": f"Exports the Patient compartment: {', '.join(export.PATIENT_TYPES)}. "
                                     f"{_EXPORT_PARAMETERS}"}]
            if entry["type"] in export.NOT_EXPORTED:
                entry["documentation"] = export.NOT_EXPORTED[entry["type"]] + "."
    scopes = sorted({scope_name(r, i) for (r, i) in SMART_SCOPES if r in implemented()})
    cs["rest"][0]["security"]["description"] += " Scopes: " + ", ".join(scopes) + "."
    return fhir_response(cs)


from praxis.interop.api import (  # noqa: E402, F401  (their routes join this router)
    fhir_billing,
    fhir_export,
    fhir_intake,
    fhir_slots,
    fhir_write,
)
