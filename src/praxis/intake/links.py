"""Patient intake links: expiring, single-purpose, single-use, no login.

The token is `<org id hex>.<32 random bytes, base64url>`. Only the SHA-256 of the random part
is stored. A link opens exactly one submission; the pages behind it show the questions and the
patient's own answers typed through that link, nothing else of the record. Submitting closes
it. Every request is rate limited per link and per address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from praxis.intake import ratelimit
from praxis.intake.models import IntakeLink, IntakeSubmission
from praxis.intake.permissions import INTAKE_FILL
from praxis.intake.prefill import known_answers
from praxis.intake.schemas import LinkOut
from praxis.intake.service import (
    answer_step,
    load_submission,
    resolve_workflow,
    start_in,
    submit_in,
    version_definition,
)
from praxis.patients.access import load_patient
from praxis.patients.coverage import payers_in
from praxis.patients.documents import check_file, store_in
from praxis.patients.models import Patient
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform import audit
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.crypto import keyring
from praxis.platform.errors import Conflict, NotFound, ProblemError, ValidationProblem
from praxis.platform.uow import unit_of_work

DEFAULT_HOURS = 72
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{40,60})$")


class LinkClosed(ProblemError):
    status = 410
    type = "link-closed"
    title = "This link can no longer be used"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _issue(session: Session, ctx: Context, sub: IntakeSubmission, hours: int) -> LinkOut:
    secret = secrets.token_urlsafe(32)
    expires = now() + timedelta(hours=hours)
    link = IntakeLink(
        org_id=ctx.org_id,
        submission_id=sub.id,
        patient_id=sub.patient_id,
        purpose="intake",
        token_hash=_hash(secret),
        expires_at=expires,
        created_by=ctx.actor_id,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        ctx,
        "intake.link.create",
        "intake_link",
        link.id,
        patient_id=sub.patient_id,
        location_id=sub.location_id,
        detail={"submission_id": str(sub.id), "hours": hours},
    )
    token = f"{ctx.org_id.hex}.{secret}"
    return LinkOut(token=token, path=f"/intake/l/{token}", expires_at=expires)


def create_link(ctx: Context, submission_id: uuid.UUID, hours: int = DEFAULT_HOURS) -> LinkOut:
    """A patient link for an open desk submission. Earlier links to it stop working."""
    with unit_of_work(ctx) as session:
        sub = load_submission(session, ctx, submission_id, INTAKE_FILL)
        if sub.status != "open":
            raise Conflict("This intake was already submitted")
        for old in session.scalars(
            select(IntakeLink).where(IntakeLink.submission_id == sub.id, IntakeLink.revoked_at.is_(None))
        ):
            old.revoked_at = now()
        sub.channel = "link"
        return _issue(session, ctx, sub, hours)


def send_intake_link(
    ctx: Context,
    patient_id: uuid.UUID,
    location_id: uuid.UUID | None = None,
    visit_type: str = "",
    hours: int = DEFAULT_HOURS,
) -> LinkOut:
    """Open an intake with the current workflow version and return a link for the patient."""
    location_id = location_id or ctx.location_id
    ctx.require(INTAKE_FILL, location_id, what="location")
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, PATIENTS_READ if ctx.has(PATIENTS_READ) else INTAKE_FILL)
        sub = start_in(session, ctx, patient.id, location_id, visit_type, "link")
        return _issue(session, ctx, sub, hours)


def open_for_appointment(
    ctx: Context,
    appointment_id: uuid.UUID,
    patient_id: uuid.UUID,
    location_id: uuid.UUID | None,
    visit_type: str,
    deliver: Callable[[LinkOut], bool],
    hours: int = DEFAULT_HOURS,
) -> str:
    """Open the intake of a booked appointment, once, and hand its link to `deliver`.

    Returns "opened" (and delivered), "undelivered" (opened; `deliver` found no way to reach the
    patient), "exists" (this appointment already has its intake: nothing is done) or
    "no_workflow". `deliver` runs inside the transaction: when it raises, nothing is kept and the
    caller (an outbox handler) is retried; the unique appointment id makes a second run a no-op.
    """
    with unit_of_work(ctx) as session:
        existing = session.scalars(
            select(IntakeSubmission.id).where(IntakeSubmission.appointment_id == appointment_id)
        ).first()
        if existing is not None:
            return "exists"
        workflow = resolve_workflow(session, location_id, visit_type)
        if workflow is None:
            return "no_workflow"
        patient = load_patient(session, ctx, patient_id, INTAKE_FILL)
        # start_in flushes: the unique (org, appointment) index stops a concurrent second run there.
        sub = start_in(session, ctx, patient.id, location_id, visit_type, "link", workflow=workflow,
                       appointment_id=appointment_id)
        link = _issue(session, ctx, sub, hours)
        return "opened" if deliver(link) else "undelivered"


# --- public side ----------------------------------------------------------------------------------


@dataclass
class LinkView:
    """Exactly what the public page may show: the form, this link's answers, the step."""

    title: str
    steps: list[dict[str, Any]]
    answers: dict[str, Any]
    status: str
    expires_at: datetime
    payer_names: list[str] = field(default_factory=list)  # the directory, for "insurance company"
    knows_patient: bool = False  # the record holds answers that a verified patient sees filled in
    link_id: uuid.UUID | None = None


def _link_ctx(org_id: uuid.UUID, link: IntakeLink | None, ip: str | None) -> Context:
    return Context(
        org_id=org_id,
        actor_id=None,
        actor_type="patient_link",
        actor_name=f"patient link {link.id}" if link else "patient link",
        client_ip=ip,
        permissions={},
    )


def _open(session: Session, secret: str) -> IntakeLink:
    link = session.scalars(select(IntakeLink).where(IntakeLink.token_hash == _hash(secret))).first()
    if link is None:
        raise NotFound("No such link")
    if link.revoked_at is not None:
        raise LinkClosed("This link was replaced by a newer one; use the latest message from the clinic")
    if link.used_at is not None:
        raise LinkClosed("This form was already submitted. Thank you!")
    if link.expires_at <= now():
        raise LinkClosed("This link has expired; ask the clinic for a new one")
    return link


def _parse_token(token: str) -> tuple[uuid.UUID, str]:
    m = _TOKEN.match(token or "")
    if not m:
        raise NotFound("No such link")
    return uuid.UUID(m.group(1)), m.group(2)


def _session_for(token: str, ip: str | None) -> tuple[uuid.UUID, str]:
    org_id, secret = _parse_token(token)
    ratelimit.check(_hash(secret)[:16], ip)
    return org_id, secret


def view_link(token: str, ip: str | None, *, verified: str | None = None) -> LinkView:
    """What the patient sees when opening the link (404/410 for a bad, used or expired link).
    With `verified` (the proof `verify_birth_date` issued for this link) the form shows what the
    record already knows about the patient, filled in."""
    org_id, secret = _session_for(token, ip)
    ctx = _link_ctx(org_id, None, ip)
    with unit_of_work(ctx) as session:
        link = _open(session, secret)
        ctx = _link_ctx(org_id, link, ip)
        sub = session.scalars(select(IntakeSubmission).where(IntakeSubmission.id == link.submission_id)).one()
        defn, _ = version_definition(session, sub)
        audit.record(
            session,
            ctx,
            "intake.link.open",
            "intake_submission",
            sub.id,
            patient_id=sub.patient_id,
            location_id=sub.location_id,
        )
        # Answers are shown only when typed through a link: desk answers may hold what staff
        # know but the link holder should not see.
        answers = sub.answers if sub.channel == "link" else {}
        if sub.status == "open" and verified and _proof_ok(link, verified):
            # What the record already knows is shown filled in; the patient's own answers win.
            answers = {**known_answers(session, sub, defn), **answers}
        return LinkView(
            title=defn["title"],
            steps=defn["steps"],
            answers=answers,
            status=sub.status,
            expires_at=link.expires_at,
            payer_names=[p.name for p in payers_in(session)],
            knows_patient=bool(known_answers(session, sub, defn)) if sub.status == "open" else False,
            link_id=link.id,
        )


def save_link_step(
    token: str,
    ip: str | None,
    step: int,
    raw: dict[str, Any],
    files: dict[str, tuple[str, bytes]] | None = None,
) -> LinkView:
    """Store one step's answers from the patient; uploaded files become patient documents."""
    org_id, secret = _session_for(token, ip)
    files = files or {}
    for data in files.values():
        check_file(data[1])  # refuse a bad file before anything is written
    with unit_of_work(_link_ctx(org_id, None, ip)) as session:
        link = _open(session, secret)
        ctx = _link_ctx(org_id, link, ip)
        sub = session.scalars(select(IntakeSubmission).where(IntakeSubmission.id == link.submission_id)).one()
        defn, _ = version_definition(session, sub)
        if not 0 <= step < len(defn["steps"]):
            raise ValidationProblem("No such step", field="step")
        fields = {f["key"]: f for f in defn["steps"][step]["fields"]}
        raw = dict(raw)
        for key, (filename, data) in files.items():
            f = fields.get(key)
            if f is None or f["type"] != "file":
                raise ValidationProblem(f"Unknown file field '{key}'", field=key)
            target = str(f.get("maps_to") or "document.other")
            kind = target.split(".", 1)[1] if target.startswith("document.") else "other"
            doc = store_in(
                session,
                ctx,
                sub.patient_id,
                data,
                kind=kind,
                filename=filename,
                source="intake",
                source_id=sub.id,
            )
            raw[key] = str(doc.id)
        for key, f in fields.items():
            # A file answered earlier stays unless a new one is uploaded.
            if f["type"] == "file" and key not in raw and key in sub.answers:
                raw[key] = sub.answers[key]
        answer_step(session, ctx, sub, defn, step, raw, via="link")
        return LinkView(
            title=defn["title"],
            steps=defn["steps"],
            answers=sub.answers,
            status=sub.status,
            expires_at=link.expires_at,
        )


def submit_link(token: str, ip: str | None) -> None:
    """Submit through the link; the link is closed afterwards (works once)."""
    org_id, secret = _session_for(token, ip)
    with unit_of_work(_link_ctx(org_id, None, ip)) as session:
        link = _open(session, secret)
        ctx = _link_ctx(org_id, link, ip)
        sub = session.scalars(select(IntakeSubmission).where(IntakeSubmission.id == link.submission_id)).one()
        if sub.status != "open":
            raise LinkClosed("This form was already submitted. Thank you!")
        defn, _ = version_definition(session, sub)
        submit_in(session, ctx, sub, defn)
        link.used_at = now()


# --- pre-filling after the patient proves who they are ---------------------------------------------


def _proof(link: IntakeLink) -> str:
    return keyring().sign(f"intake-link-dob:{link.id}:{link.token_hash}")


def _proof_ok(link: IntakeLink, proof: str) -> bool:
    return hmac.compare_digest(_proof(link), proof)


def verify_birth_date(token: str, ip: str | None, dob: date | None) -> str | None:
    """The link holder types the patient's date of birth before the form shows what the record
    knows (a forwarded or intercepted link alone reveals nothing). Returns a proof for this link
    (kept in a cookie by the page) or None when the date does not match; rate limited like every
    link request and audited either way."""
    org_id, secret = _session_for(token, ip)
    with unit_of_work(_link_ctx(org_id, None, ip)) as session:
        link = _open(session, secret)
        ctx = _link_ctx(org_id, link, ip)
        sub = session.scalars(select(IntakeSubmission).where(IntakeSubmission.id == link.submission_id)).one()
        patient = session.scalars(select(Patient).where(Patient.id == sub.patient_id)).one()
        ok = dob is not None and patient.dob == dob
        audit.record(session, ctx, "intake.link.verify", "intake_submission", sub.id, patient_id=sub.patient_id,
                     location_id=sub.location_id, detail={"matched": ok})
        return _proof(link) if ok else None
