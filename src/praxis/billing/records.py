"""Encounters and claims read for integrations (the FHIR facade's search and bulk export).

The work-queue listings in charges.py and claims.py answer summaries for screens; integrations
need whole records (claims with their lines and timestamps), filters FHIR searches by (patient,
date, status, location, created) and keyset pages over everything for a bulk export. The
location-scope rule is the same: billing:read at the record's location.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from praxis.billing.models import Claim, ClaimLine, Encounter
from praxis.billing.permissions import BILLING_READ
from praxis.platform import audit
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Forbidden
from praxis.platform.uow import unit_of_work


@dataclass(frozen=True)
class ClaimRecord:
    """A claim row and its lines, in line order."""

    claim: Claim
    lines: Sequence[ClaimLine]


def _require(ctx: Context) -> frozenset[uuid.UUID] | None:
    if not ctx.has(BILLING_READ):
        raise Forbidden(f"Permission {BILLING_READ} required")
    return ctx.scope(BILLING_READ)


def _scoped(stmt: Select, column: object, scope: frozenset[uuid.UUID] | None,  # type: ignore[type-arg]
            location_ids: Sequence[uuid.UUID] | None) -> Select | None:  # type: ignore[type-arg]
    """Narrow to the wanted locations within the caller's scope (None: nothing can match)."""
    wanted = set(location_ids) if location_ids else None
    if scope is not None:
        wanted = (wanted & scope) if wanted is not None else set(scope)
    if wanted is not None:
        if not wanted:
            return None
        stmt = stmt.where(column.in_(sorted(wanted)))  # type: ignore[attr-defined]
    return stmt


def get_encounter_record(ctx: Context, encounter_id: uuid.UUID) -> Encounter:
    """One encounter (404 outside the caller's organisation or locations); audited."""
    _require(ctx)
    with unit_of_work(ctx) as session:
        enc = get_or_404(session, Encounter, encounter_id, "encounter")
        ctx.require(BILLING_READ, enc.location_id, what="encounter")
        audit.record(session, ctx, "encounter.read", "encounter", enc.id, patient_id=enc.patient_id,
                     location_id=enc.location_id)
        return enc


def encounter_conditions(*, patient_id: uuid.UUID | None = None, since: date | None = None,
                         until: date | None = None, statuses: Sequence[str] | None = None,
                         location_ids: Sequence[uuid.UUID] | None = None) -> list[ColumnElement[bool]]:
    """The SQL conditions of `find_encounters`' criteria without the location scope (for
    `iter_encounters(where=)`: a bulk export's `_typeFilter`)."""
    out: list[ColumnElement[bool]] = []
    if patient_id is not None:
        out.append(Encounter.patient_id == patient_id)
    if since is not None:
        out.append(Encounter.date_of_service >= since)
    if until is not None:
        out.append(Encounter.date_of_service < until)
    if statuses is not None:
        out.append(Encounter.status.in_(list(statuses)))
    if location_ids:
        out.append(Encounter.location_id.in_(list(location_ids)))
    return out


def find_encounters(ctx: Context, *, patient_id: uuid.UUID | None = None, since: date | None = None,
                    until: date | None = None, statuses: Sequence[str] | None = None,
                    location_ids: Sequence[uuid.UUID] | None = None, limit: int = 50,
                    offset: int = 0) -> list[Encounter]:
    """Encounters matching every criterion given (date of service in [since, until)), newest first;
    each returned one is audited."""
    scope = _require(ctx)
    stmt = select(Encounter).where(*encounter_conditions(patient_id=patient_id, since=since, until=until,
                                                         statuses=statuses))
    scoped = _scoped(stmt, Encounter.location_id, scope, location_ids)
    if scoped is None:
        return []
    with unit_of_work(ctx) as session:
        rows = list(session.scalars(scoped.order_by(Encounter.date_of_service.desc(), Encounter.id)
                                    .limit(limit).offset(offset)))
        audit.record_many(session, ctx, "encounter.search_result", "encounter", [(e.id, e.patient_id) for e in rows])
        return rows


def _with_lines(session: Session, claims: list[Claim]) -> list[ClaimRecord]:
    lines: dict[uuid.UUID, list[ClaimLine]] = {c.id: [] for c in claims}
    if claims:
        for ln in session.scalars(select(ClaimLine).where(ClaimLine.claim_id.in_(list(lines)))
                                  .order_by(ClaimLine.claim_id, ClaimLine.line_no)):
            lines[ln.claim_id].append(ln)
    return [ClaimRecord(c, lines[c.id]) for c in claims]


def get_claim_record(ctx: Context, claim_id: uuid.UUID) -> ClaimRecord:
    """One claim with its lines (404 outside the caller's organisation or locations); audited."""
    _require(ctx)
    with unit_of_work(ctx) as session:
        claim = get_or_404(session, Claim, claim_id, "claim")
        ctx.require(BILLING_READ, claim.location_id, what="claim")
        audit.record(session, ctx, "claim.read", "claim", claim.id, patient_id=claim.patient_id,
                     location_id=claim.location_id)
        return _with_lines(session, [claim])[0]


def claim_conditions(*, patient_id: uuid.UUID | None = None, created_since: datetime | None = None,
                     created_until: datetime | None = None, statuses: Sequence[str] | None = None
                     ) -> list[ColumnElement[bool]]:
    """The SQL conditions of `find_claims`' criteria without the location scope (for
    `iter_claims(where=)`)."""
    out: list[ColumnElement[bool]] = []
    if patient_id is not None:
        out.append(Claim.patient_id == patient_id)
    if created_since is not None:
        out.append(Claim.created_at >= created_since)
    if created_until is not None:
        out.append(Claim.created_at < created_until)
    if statuses is not None:
        out.append(Claim.status.in_(list(statuses)))
    return out


def find_claims(ctx: Context, *, patient_id: uuid.UUID | None = None, created_since: datetime | None = None,
                created_until: datetime | None = None, statuses: Sequence[str] | None = None,
                limit: int = 50, offset: int = 0) -> list[ClaimRecord]:
    """Claims matching every criterion given (created in [since, until)), newest first; each
    returned one is audited."""
    scope = _require(ctx)
    stmt = select(Claim).where(*claim_conditions(patient_id=patient_id, created_since=created_since,
                                                 created_until=created_until, statuses=statuses))
    scoped = _scoped(stmt, Claim.location_id, scope, None)
    if scoped is None:
        return []
    with unit_of_work(ctx) as session:
        rows = list(session.scalars(scoped.order_by(Claim.created_at.desc(), Claim.id).limit(limit).offset(offset)))
        audit.record_many(session, ctx, "claim.search_result", "claim", [(c.id, c.patient_id) for c in rows])
        return _with_lines(session, rows)


def iter_encounters(ctx: Context, *, updated_since: datetime | None = None, batch: int = 1000,
                    where: ColumnElement[bool] | None = None) -> Iterator[list[Encounter]]:
    """Every encounter in the caller's scope (and matching `where`, if given), in batches by id (a
    bulk export); the caller audits."""
    scope = _require(ctx)
    after: uuid.UUID | None = None
    while True:
        stmt = select(Encounter) if where is None else select(Encounter).where(where)
        if updated_since is not None:
            stmt = stmt.where(Encounter.updated_at >= updated_since)
        if after is not None:
            stmt = stmt.where(Encounter.id > after)
        scoped = _scoped(stmt, Encounter.location_id, scope, None)
        if scoped is None:
            return
        with unit_of_work(ctx) as session:
            rows = list(session.scalars(scoped.order_by(Encounter.id).limit(batch)))
        if not rows:
            return
        yield rows
        after = rows[-1].id


def iter_claims(ctx: Context, *, updated_since: datetime | None = None, batch: int = 1000,
                where: ColumnElement[bool] | None = None) -> Iterator[list[ClaimRecord]]:
    """Every claim in the caller's scope (and matching `where`, if given) with its lines, in batches
    by id (a bulk export); the caller audits."""
    scope = _require(ctx)
    after: uuid.UUID | None = None
    while True:
        stmt = select(Claim) if where is None else select(Claim).where(where)
        if updated_since is not None:
            stmt = stmt.where(Claim.updated_at >= updated_since)
        if after is not None:
            stmt = stmt.where(Claim.id > after)
        scoped = _scoped(stmt, Claim.location_id, scope, None)
        if scoped is None:
            return
        with unit_of_work(ctx) as session:
            rows = list(session.scalars(scoped.order_by(Claim.id).limit(batch)))
            records = _with_lines(session, rows)
        if not records:
            return
        yield records
        after = rows[-1].id
