"""Tombstones: what was deleted outright, for clients that sync by `updated_since` (decision 55).

A row a list returned and that is later deleted (not ended by a status, which is a change the
list itself shows) leaves no trace in its table, so a sync by `updated_since` cannot learn of it.
Each domain that hard-deletes such a row calls `record_deletion` in the same transaction as the
delete: the tombstone commits or rolls back with it. `GET /api/v1/deletions` and the FHIR bulk
export's `deleted` list read them.

The kernel knows no domain: a domain registers each kind it records (`register_kind`) with the
permission that lists it and how the list is scoped (by location, or to the row's owner), and the
feed shows a caller only the kinds, locations and owners their own lists would show.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Index, String, and_, false, insert, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import Base, TenantScoped
from praxis.platform.ids import new_id
from praxis.platform.paging import keyset_after


class Deletion(TenantScoped, Base):
    """One deleted record: its kind (the list or resource it appeared in) and id."""

    __tablename__ = "deletions"

    kind: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(80))
    # The location the record belonged to, for lists scoped by location (None: not location-bound).
    location_id: Mapped[uuid.UUID | None]
    # The record it was part of (a provider location's provider), when a consumer needs it to name
    # what disappeared (the FHIR Schedule of a provider and a location).
    parent_id: Mapped[uuid.UUID | None]
    # For lists that show each user only their own rows (care timers): whose row it was.
    owner_id: Mapped[uuid.UUID | None]
    deleted_at: Mapped[datetime] = mapped_column(default=now)

    __table_args__ = (
        Index("ix_deletions_org_deleted", "org_id", "deleted_at", "id"),
    )

    @property
    def updated_at(self) -> datetime:
        # A tombstone never changes: its deletion is its change time for `updated_since`.
        return self.deleted_at


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    permission: str  # the permission of the list the records appeared in
    owned: bool = False  # only the owner's rows were listed (and only the owner hears of deletions)


KINDS: dict[str, Kind] = {}


def register_kind(name: str, permission: str, *, owned: bool = False) -> str:
    """Declare a kind of tombstone and who may see it; returns the name (for use as a constant)."""
    existing = KINDS.get(name)
    kind = Kind(name, permission, owned)
    if existing is not None and existing != kind:
        raise ValueError(f"deletion kind {name!r} registered twice with different meanings")
    KINDS[name] = kind
    return name


def record_deletion(db: Session | Connection, org_id: uuid.UUID, kind: str, record_id: uuid.UUID | str, *,
                    location_id: uuid.UUID | None = None, parent_id: uuid.UUID | None = None,
                    owner_id: uuid.UUID | None = None) -> None:
    """Write the tombstone of a record deleted in this transaction (call it beside the delete)."""
    if kind not in KINDS:
        raise ValueError(f"deletion kind {kind!r} is not registered")
    db.execute(insert(Deletion).values(org_id=org_id, id=new_id(), kind=kind, record_id=str(record_id),
                                       location_id=location_id, parent_id=parent_id, owner_id=owner_id,
                                       deleted_at=now()))


def visible(ctx: Context, kinds: Sequence[str] | None = None) -> Any:
    """The condition "a tombstone the caller's own lists would have shown the record of": a kind
    whose permission the caller holds, at a location in its scope, or its own row for owned kinds."""
    ors = []
    for name, kind in KINDS.items():
        if (kinds is not None and name not in kinds) or not ctx.has(kind.permission):
            continue
        cond = [Deletion.kind == name]
        if kind.owned:
            cond.append(Deletion.owner_id == ctx.actor_id if ctx.actor_id is not None else false())
        else:
            scope = ctx.scope(kind.permission)
            if scope is not None:
                cond.append(Deletion.location_id.in_(sorted(scope, key=str)))
        ors.append(and_(*cond))
    return or_(*ors) if ors else false()


def list_deletions(session: Session, ctx: Context, *, kinds: Sequence[str] | None = None,
                   since: datetime | None = None, after: tuple[Any, ...] | None = None,
                   limit: int = 100) -> list[Deletion]:
    """Tombstones the caller may see, oldest first (deleted_at, id), deleted at or after `since`,
    after the keyset position `after`; `limit` rows at most."""
    stmt = select(Deletion).where(Deletion.org_id == ctx.org_id, visible(ctx, kinds))
    if since is not None:
        stmt = stmt.where(Deletion.deleted_at >= since)
    if after is not None:
        stmt = stmt.where(keyset_after([(Deletion.deleted_at, False), (Deletion.id, False)], after))
    return list(session.scalars(stmt.order_by(Deletion.deleted_at, Deletion.id).limit(limit)))
