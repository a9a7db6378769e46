"""Patient facts other domains read on their hot paths, and the rules that come with them.

Scheduling books, reminds and lists appointments for patients; it needs a patient's status and
location link inside the booking's one probe statement, a reminder's contact channel, the names on
a day sheet. Those reads are written here, next to the tables, so no other domain queries patients'
tables or decides what "may be contacted by text" means. Other domains reach these functions
through `praxis.patients.service`. Statements are Core and name their organisation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select
from sqlalchemy.orm import Session

from praxis.patients import access
from praxis.patients.models import Patient, PatientLocation
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform.context import Context
from praxis.platform.errors import NotFound
from praxis.platform.hotsql import HotStatement
from praxis.practice.schemas import OrgSettings

P = Patient.__table__
PL = PatientLocation.__table__


@dataclass(frozen=True)
class Contact:
    """How a patient may be reached: what they gave us, what they consented to, what they opted out of."""

    patient_id: uuid.UUID
    first_name: str
    last_name: str
    preferred_channel: str
    phone: str | None
    email: str | None
    sms_ok: bool
    email_ok: bool

    def channel(self, wanted: str = "preferred") -> tuple[str, str] | None:
        """(channel, address) the patient consents to and has not opted out of, or None."""
        order = [self.preferred_channel, "sms", "email"] if wanted == "preferred" else [wanted]
        for ch in order:
            if ch == "sms" and self.sms_ok and self.phone:
                return "sms", self.phone
            if ch == "email" and self.email_ok and self.email:
                return "email", self.email
        return None


def require_bookable_patient(session: Session, ctx: Context, patient_id: uuid.UUID) -> None:
    """404 unless the patient exists in the org, is active and (when the actor reads patients)
    is visible to the actor."""
    if ctx.has(PATIENTS_READ):
        status = access.load_patient(session, ctx, patient_id).status
    else:
        status = session.connection().scalar(select(P.c.status).where(P.c.org_id == ctx.org_id,
                                                                       P.c.id == patient_id))
    check_bookable_status(status)


def booking_visibility(ctx: Context, settings: OrgSettings) -> frozenset[uuid.UUID] | None:
    """Locations bounding which patients the actor may book for (None = any patient of the org):
    the visibility rule, for actors who read patients."""
    return access.visible_under(ctx, settings) if ctx.has(PATIENTS_READ) else None


def booking_columns(org_id: Any, patient_id: Any, location_id: Any, visible_at: Any | None) -> list[Any]:
    """Two columns for a booking's probe statement, built from SQL expressions (bind parameters):

    - `patient_status`: the patient's status; NULL when missing or, with `visible_at` (an
      expanding parameter), when not linked to one of those locations;
    - `patient_linked`: the patient is already linked to `location_id`.
    """
    status = select(P.c.status).where(P.c.org_id == org_id, P.c.id == patient_id)
    if visible_at is not None:
        status = status.where(access.visibility_clause(visible_at))
    linked = exists(select(PL.c.id).where(PL.c.org_id == org_id, PL.c.patient_id == patient_id,
                                          PL.c.location_id == location_id))
    return [status.scalar_subquery().label("patient_status"), linked.label("patient_linked")]


def check_bookable_status(status: str | None) -> None:
    """404 for a patient `booking_columns` found missing, invisible or merged away."""
    if status is None:
        raise NotFound("No such patient", field="patient_id")
    if status == "merged":
        raise NotFound("That patient record was merged into another; book on the surviving record",
                       field="patient_id")


def contact(conn: Connection, org_id: uuid.UUID, patient_id: uuid.UUID) -> Contact | None:
    """The patient's contact details and consents (None when there is no such patient)."""
    r = conn.execute(select(P.c.id, P.c.first_name, P.c.last_name, P.c.preferred_name, P.c.preferred_channel,
                            P.c.phone_mobile, P.c.email, P.c.consent_sms, P.c.consent_email,
                            P.c.sms_opted_out, P.c.email_opted_out)
                     .where(P.c.org_id == org_id, P.c.id == patient_id)).first()
    if r is None:
        return None
    return Contact(r.id, r.preferred_name or r.first_name, r.last_name, r.preferred_channel or "sms",
                   r.phone_mobile, r.email, bool(r.consent_sms and not r.sms_opted_out),
                   bool(r.consent_email and not r.email_opted_out))


def names(conn: Connection, org_id: uuid.UUID, patient_ids: list[uuid.UUID]
          ) -> dict[uuid.UUID, tuple[str, str, str, date]]:
    """patient id -> (first or preferred name, last name, MRN, date of birth)."""
    if not patient_ids:
        return {}
    rows = _NAMES.rows(conn, {"org": org_id, "ids": patient_ids})
    return {r.id: (r.preferred_name or r.first_name, r.last_name, r.mrn, r.dob) for r in rows}


# A day sheet asks for hundreds of patients: one array parameter instead of one per id.
_NAMES = HotStatement(select(P.c.id, P.c.first_name, P.c.preferred_name, P.c.last_name, P.c.mrn, P.c.dob)
                      .where(P.c.org_id == bindparam("org"), P.c.id.in_(bindparam("ids", expanding=True))))
