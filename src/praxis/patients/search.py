"""Patient search: name prefix (accent/case-insensitive), DOB, phone, MRN/alias, member id.

Search runs on normalised columns with plain `LIKE 'prefix%'` so indexes serve it on both
databases; the location-scope rule comes from `access.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, UnaryExpression, and_, or_, select

from praxis.patients import normalise as n
from praxis.patients.access import visibility_clause, visible_locations
from praxis.patients.models import Coverage, Patient, PatientAlias
from praxis.patients.permissions import PATIENTS_READ
from praxis.patients.schemas import PatientOut, PatientSort, PatientSummary
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.errors import Forbidden, ValidationProblem
from praxis.platform.paging import keyset_after
from praxis.platform.schemas import MAX_OFFSET
from praxis.platform.uow import unit_of_work

_SORTS: dict[str, list[Any]] = {
    "name": [Patient.last_name_norm, Patient.first_name_norm, Patient.dob],
    "-name": [Patient.last_name_norm.desc(), Patient.first_name_norm.desc()],
    "dob": [Patient.dob, Patient.last_name_norm],
    "-dob": [Patient.dob.desc(), Patient.last_name_norm],
    "mrn": [Patient.mrn],
    "-mrn": [Patient.mrn.desc()],
    "created_at": [Patient.created_at],
    "-created_at": [Patient.created_at.desc()],
    # The registry sync's order (ix_patients_org_updated): a record changed mid-walk moves to the end,
    # so the walk ends with its newest state.
    "updated_at": [Patient.updated_at],
}

# PostgreSQL sorts names in "C" order, the order of ix_patients_org_name_c (normalised names hold
# only [a-z0-9 ]): a prefix search then reads one page of that index instead of sorting every
# match (a 4-letter prefix of a common name matched 10,000 of 200,000 patients; decision 39).
_SORTS_PG: dict[str, list[Any]] = {
    "name": [Patient.last_name_norm.collate("C"), Patient.first_name_norm.collate("C"), Patient.dob],
    "-name": [Patient.last_name_norm.collate("C").desc(), Patient.first_name_norm.collate("C").desc()],
}


def _prefix(col: Any, text: str) -> ColumnElement[bool]:
    # Normalised text holds only [a-z0-9 ]: no LIKE wildcard can reach the pattern.
    return col.like(text + "%")


def _name_clause(term: str) -> ColumnElement[bool] | None:
    if "," in term:
        last_raw, _, first_raw = term.partition(",")
        last, first = n.normalise_name(last_raw), n.normalise_name(first_raw)
        parts = []
        if last:
            parts.append(_prefix(Patient.last_name_norm, last))
        if first:
            parts.append(or_(_prefix(Patient.first_name_norm, first), _prefix(Patient.preferred_name_norm, first)))
        return and_(*parts) if parts else None
    norm = n.normalise_name(term)
    if not norm:
        return None
    tokens = norm.split(" ")
    if len(tokens) == 1:
        t = tokens[0]
        return or_(
            _prefix(Patient.last_name_norm, t),
            _prefix(Patient.first_name_norm, t),
            _prefix(Patient.preferred_name_norm, t),
        )
    a, b = tokens[0], " ".join(tokens[1:])
    return or_(
        and_(
            or_(_prefix(Patient.first_name_norm, a), _prefix(Patient.preferred_name_norm, a)),
            _prefix(Patient.last_name_norm, b),
        ),
        and_(_prefix(Patient.last_name_norm, a), _prefix(Patient.first_name_norm, b)),
        _prefix(Patient.last_name_norm, norm),
    )


def _phone_clause(e164: str) -> ColumnElement[bool]:
    return or_(Patient.phone_mobile == e164, Patient.phone_home == e164, Patient.phone_work == e164)


def _member_clause(member_id: str) -> ColumnElement[bool]:
    return Patient.id.in_(
        select(Coverage.patient_id).where(Coverage.member_id_norm == n.normalise_member_id(member_id))
    )


def _mrn_clause(mrn: str) -> ColumnElement[bool]:
    return or_(Patient.mrn == mrn, Patient.id.in_(select(PatientAlias.patient_id).where(PatientAlias.value == mrn)))


def _free_text_clause(q: str) -> ColumnElement[bool] | None:
    """Interpret one search box: a date, an MRN, a phone, a member id or a name."""
    q = q.strip()
    if not q:
        return None
    if n.DATE_LIKE.match(q):
        try:
            return Patient.dob == n.parse_date(q)
        except n.ParseError:
            return None
    options: list[ColumnElement[bool]] = []
    if any(c.isdigit() for c in q):
        options.append(_mrn_clause(q))
        options.append(_member_clause(q))
        try:
            phone = n.parse_phone(q)
        except n.ParseError:
            phone = None
        if phone:
            options.append(_phone_clause(phone))
    if any(c.isalpha() for c in q):
        name = _name_clause(q)
        if name is not None:
            options.append(name)
    return or_(*options) if options else None


def _search_statement(
    *,
    q: str | None,
    last: str | None,
    first: str | None,
    dob: date | None,
    phone: str | None,
    mrn: str | None,
    member_id: str | None,
    dob_since: date | None = None,
    dob_until: date | None = None,
) -> Select[Patient] | None:
    clauses: list[ColumnElement[bool]] = []
    if q:
        c = _free_text_clause(q)
        if c is None:
            return None
        clauses.append(c)
    if last:
        clauses.append(_prefix(Patient.last_name_norm, n.normalise_name(last)))
    if first:
        f = n.normalise_name(first)
        clauses.append(or_(_prefix(Patient.first_name_norm, f), _prefix(Patient.preferred_name_norm, f)))
    if dob:
        clauses.append(Patient.dob == dob)
    if dob_since:
        clauses.append(Patient.dob >= dob_since)
    if dob_until:
        clauses.append(Patient.dob < dob_until)
    if phone:
        try:
            e164 = n.parse_phone(phone)
        except n.ParseError as exc:
            raise ValidationProblem(str(exc), field="phone") from None
        if e164:
            clauses.append(_phone_clause(e164))
    if mrn:
        clauses.append(_mrn_clause(mrn.strip()))
    if member_id:
        clauses.append(_member_clause(member_id))
    if not clauses:
        return None  # no criteria: never dump the whole registry
    return select(Patient).where(Patient.status == "active", *clauses)


def search_condition(*, q: str | None = None, last: str | None = None, first: str | None = None,
                     dob: date | None = None, phone: str | None = None, mrn: str | None = None,
                     member_id: str | None = None, dob_since: date | None = None, dob_until: date | None = None
                     ) -> ColumnElement[bool] | None:
    """The SQL condition `find_patient_records` applies for these criteria (None: nothing can match),
    for a caller that reads patients its own way (a FHIR bulk export's `_typeFilter`). The caller
    adds the visibility rule and audits what it shows."""
    stmt = _search_statement(q=q, last=last, first=first, dob=dob, phone=phone, mrn=mrn, member_id=member_id,
                             dob_since=dob_since, dob_until=dob_until)
    return None if stmt is None else stmt.whereclause


def find_patients(
    ctx: Context,
    *,
    q: str | None = None,
    last: str | None = None,
    first: str | None = None,
    dob: date | None = None,
    phone: str | None = None,
    mrn: str | None = None,
    member_id: str | None = None,
    sort: PatientSort = "name",
    limit: int = 25,
    offset: int = 0,
) -> list[PatientSummary]:
    """Search: name prefix (last, first, "last, first"), DOB, phone, MRN/alias, member id.

    Every criterion given must match. Location-scoped actors in organisations that restrict
    search see only patients linked to their locations. Each patient returned is audited.
    """
    rows = _find(ctx, q=q, last=last, first=first, dob=dob, phone=phone, mrn=mrn, member_id=member_id,
                 sort=sort, limit=limit, offset=offset)
    return [PatientSummary.model_validate(p) for p in rows]


def find_patient_records(
    ctx: Context,
    *,
    q: str | None = None,
    last: str | None = None,
    first: str | None = None,
    dob: date | None = None,
    phone: str | None = None,
    mrn: str | None = None,
    member_id: str | None = None,
    dob_since: date | None = None,
    dob_until: date | None = None,
    sort: PatientSort = "name",
    limit: int = 25,
    offset: int = 0,
) -> list[PatientOut]:
    """`find_patients` returning whole records (integrations such as FHIR show every demographic
    field; `location_ids` is left empty): one query, one audit row per patient, as the search.
    `dob_since`/`dob_until` bound the date of birth (half-open), for FHIR's prefixed birthdate."""
    rows = _find(ctx, q=q, last=last, first=first, dob=dob, phone=phone, mrn=mrn, member_id=member_id,
                 sort=sort, limit=limit, offset=offset, dob_since=dob_since, dob_until=dob_until)
    return [PatientOut.model_validate(p, from_attributes=True) for p in rows]


def find_patients_page(
    ctx: Context,
    *,
    q: str | None = None,
    last: str | None = None,
    first: str | None = None,
    dob: date | None = None,
    phone: str | None = None,
    mrn: str | None = None,
    member_id: str | None = None,
    sort: PatientSort | None = None,
    limit: int = 25,
    after: tuple[Any, ...] | None = None,
    updated_since: datetime | None = None,
) -> tuple[list[PatientSummary], tuple[Any, ...] | None]:
    """`find_patients` one keyset page at a time (the API's cursor paging): the patients after the
    position `after` in the order of `sort` (then id), changed at or after `updated_since`, and the
    position of the last one when more follow (None on the last page).

    `updated_since` with no other criterion is the registry sync (decision 48): every record the
    caller may see changed since the instant, whatever its status (a merged or deactivated record is
    a change a copy must learn of), in the order of `updated_at`, paged in SQL on
    ix_patients_org_updated. Audited like any search, one row per patient returned."""
    given = any(v.strip() if isinstance(v, str) else v for v in (q, last, first, dob, phone, mrn, member_id))
    sync = updated_since is not None and not given
    if sync and sort not in (None, "updated_at"):
        # Any other order would read the whole registry's index to find the few changed records.
        raise ValidationProblem("sort: a listing by updated_since alone is in updated_at order", field="sort")
    sort = sort or ("updated_at" if sync else "name")
    if sync and after is not None and not isinstance(after[0], datetime):
        # A cursor of a search (bound to the path, not the query) used on the sync: refuse, never compare.
        raise ValidationProblem("cursor: not a position of this listing", field="cursor")
    rows = _find(ctx, q=q, last=last, first=first, dob=dob, phone=phone, mrn=mrn, member_id=member_id,
                 sort=sort, limit=limit + 1, offset=0, after=after, updated_since=updated_since, sync=sync)
    more = len(rows) > limit
    rows = rows[:limit]
    next_key = _sort_key(rows[-1], sort) if more and rows else None
    return [PatientSummary.model_validate(p) for p in rows], next_key


def _sort_columns(sort: PatientSort) -> list[tuple[Any, bool]]:
    columns = [(c.element, True) if isinstance(c, UnaryExpression) else (c, False) for c in _SORTS[sort]]
    return [*columns, (Patient.id, False)]


def _sort_key(p: Patient, sort: PatientSort) -> tuple[Any, ...]:
    return tuple(getattr(p, c.key) for c, _ in _sort_columns(sort))


def _find(ctx: Context, *, q: str | None, last: str | None, first: str | None, dob: date | None,
          phone: str | None, mrn: str | None, member_id: str | None, sort: PatientSort, limit: int,
          offset: int, after: tuple[Any, ...] | None = None, updated_since: datetime | None = None,
          dob_since: date | None = None, dob_until: date | None = None, sync: bool = False) -> list[Patient]:
    if not ctx.has(PATIENTS_READ):
        raise Forbidden(f"Permission {PATIENTS_READ} required")
    limit = max(1, min(limit, 201))  # 200 a page, plus one to learn whether another page follows
    if not 0 <= offset <= MAX_OFFSET:  # a database integer has 64 bits; a page beyond this finds nothing
        raise ValidationProblem(f"offset must be between 0 and {MAX_OFFSET}", field="offset")
    with unit_of_work(ctx) as session:
        stmt = _search_statement(
            q=q,
            last=last,
            first=first,
            dob=dob,
            phone=phone,
            mrn=mrn,
            member_id=member_id,
            dob_since=dob_since,
            dob_until=dob_until,
        )
        if sync:
            stmt = select(Patient)  # `updated_since` below is the criterion; every status
        if stmt is None:
            return []
        if after is not None:
            stmt = stmt.where(keyset_after(_sort_columns(sort), after))
        if updated_since is not None:
            stmt = stmt.where(Patient.updated_at >= updated_since)
        locations = visible_locations(session, ctx)
        if locations is not None:
            stmt = stmt.where(visibility_clause(locations))
        order = _SORTS_PG.get(sort) if session.get_bind().dialect.name == "postgresql" else None
        rows = list(session.scalars(stmt.order_by(*(order or _SORTS[sort]), Patient.id).limit(limit).offset(offset)))
        audit.record_many(session, ctx, "patient.search_result", "patient", [(p.id, p.id) for p in rows])
        return rows
