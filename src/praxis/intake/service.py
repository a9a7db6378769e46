"""Intake: versioned workflow definitions per location/visit type, desk filling, review.

Public link filling lives in `links.py`; applying answers to the registry in `apply.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from praxis.intake import definition as d
from praxis.intake.apply import apply_submission
from praxis.intake.models import IntakeSubmission, IntakeWorkflow, IntakeWorkflowVersion
from praxis.intake.permissions import INTAKE_DESIGN, INTAKE_FILL, INTAKE_READ, INTAKE_REVIEW
from praxis.intake.schemas import SubmissionDetail, SubmissionOut, WorkflowIn, WorkflowOut
from praxis.patients.access import link_location, load_patient, visibility_clause, visible_locations
from praxis.patients.alerts import raise_alert_in
from praxis.patients.models import Patient
from praxis.patients.permissions import PATIENTS_READ
from praxis.platform import audit, outbox
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.db import get_or_404
from praxis.platform.errors import Conflict, NotFound, ValidationProblem
from praxis.platform.hotsql import HotStatement
from praxis.platform.uow import unit_of_work, write_lock
from praxis.practice.models import Location


def definition_problem(exc: d.DefinitionInvalid) -> ValidationProblem:
    first = exc.errors[0]
    return ValidationProblem(
        f"The workflow definition has {len(exc.errors)} problem(s): {exc}",
        field=f"definition.{first.path}" if first.path else "definition",
        errors=[
            {"field": f"definition.{e.path}" if e.path else "definition", "message": e.message} for e in exc.errors
        ],
    )


def _parse(defn: Any) -> dict[str, Any]:
    try:
        return d.parse_definition(defn)
    except d.DefinitionInvalid as exc:
        raise definition_problem(exc) from None


# --- workflows ------------------------------------------------------------------------------------


def _current_version(session: Session, wf: IntakeWorkflow) -> IntakeWorkflowVersion:
    """The version a workflow uses now (new intakes start with it)."""
    return session.scalars(
        select(IntakeWorkflowVersion).where(
            IntakeWorkflowVersion.workflow_id == wf.id, IntakeWorkflowVersion.version == wf.current_version
        )
    ).one()


def _workflow_out(wf: IntakeWorkflow, ver: IntakeWorkflowVersion) -> WorkflowOut:
    return WorkflowOut(
        id=wf.id,
        name=wf.name,
        location_id=wf.location_id,
        visit_type=wf.visit_type,
        current_version=wf.current_version,
        current_version_id=ver.id,
        active=wf.active,
        definition=ver.definition,
        updated_at=wf.updated_at,
    )


def create_workflow(ctx: Context, data: WorkflowIn) -> WorkflowOut:
    """Create a workflow for a location (or the organisation default) and visit type, version 1."""
    ctx.require(INTAKE_DESIGN, data.location_id, what="location")
    defn = _parse(data.definition)
    with unit_of_work(ctx) as session:
        if data.location_id is not None:
            get_or_404(session, Location, data.location_id, "location")
        clash = session.scalars(
            select(IntakeWorkflow.id).where(
                IntakeWorkflow.location_id.is_(None)
                if data.location_id is None
                else IntakeWorkflow.location_id == data.location_id,
                IntakeWorkflow.visit_type == data.visit_type,
                IntakeWorkflow.active.is_(True),
            )
        ).first()
        if clash is not None:
            raise Conflict("A workflow for this location and visit type exists; edit it instead", field="visit_type")
        wf = IntakeWorkflow(
            org_id=ctx.org_id,
            name=data.name,
            location_id=data.location_id,
            visit_type=data.visit_type,
            current_version=1,
        )
        session.add(wf)
        session.flush()
        ver = IntakeWorkflowVersion(
            org_id=ctx.org_id, workflow_id=wf.id, version=1, definition=defn, created_by=ctx.actor_id
        )
        session.add(ver)
        session.flush()
        audit.record(session, ctx, "intake_workflow.create", "intake_workflow", wf.id, location_id=data.location_id)
        return _workflow_out(wf, ver)


def save_workflow_version(
    ctx: Context, workflow_id: uuid.UUID, definition: dict[str, Any], name: str | None = None
) -> WorkflowOut:
    """Save an edited definition as a new version; submissions keep the version they used."""
    defn = _parse(definition)
    with unit_of_work(ctx) as session:
        wf = get_or_404(session, IntakeWorkflow, workflow_id, "workflow")
        ctx.require(INTAKE_DESIGN, wf.location_id, what="workflow")
        current = _current_version(session, wf)
        if current.definition == defn and (name is None or name == wf.name):
            return _workflow_out(wf, current)  # nothing changed: no new version
        wf.current_version += 1
        if name:
            wf.name = name
        ver = IntakeWorkflowVersion(
            org_id=ctx.org_id,
            workflow_id=wf.id,
            version=wf.current_version,
            definition=defn,
            created_by=ctx.actor_id,
        )
        session.add(ver)
        session.flush()
        audit.record(
            session,
            ctx,
            "intake_workflow.version",
            "intake_workflow",
            wf.id,
            location_id=wf.location_id,
            detail={"version": wf.current_version},
        )
        return _workflow_out(wf, ver)


def get_workflow(ctx: Context, workflow_id: uuid.UUID) -> WorkflowOut:
    """A workflow with its current definition."""
    with unit_of_work(ctx) as session:
        wf = get_or_404(session, IntakeWorkflow, workflow_id, "workflow")
        if not (
            ctx.can(INTAKE_DESIGN, wf.location_id)
            or ctx.can(INTAKE_FILL, wf.location_id)
            or (wf.location_id is None and (ctx.has(INTAKE_DESIGN) or ctx.has(INTAKE_FILL)))
        ):
            ctx.require(INTAKE_DESIGN, wf.location_id, what="workflow")
        return _workflow_out(wf, _current_version(session, wf))


def list_workflows(ctx: Context) -> list[WorkflowOut]:
    """Workflows the actor may design or use: org defaults and those of their locations."""
    with unit_of_work(ctx) as session:
        if not (ctx.has(INTAKE_DESIGN) or ctx.has(INTAKE_FILL)):
            ctx.require(INTAKE_DESIGN)
        # Each workflow with its current version, in one query.
        rows = session.execute(
            select(IntakeWorkflow, IntakeWorkflowVersion)
            .join(
                IntakeWorkflowVersion,
                and_(
                    IntakeWorkflowVersion.org_id == IntakeWorkflow.org_id,
                    IntakeWorkflowVersion.workflow_id == IntakeWorkflow.id,
                    IntakeWorkflowVersion.version == IntakeWorkflow.current_version,
                ),
            )
            .where(IntakeWorkflow.active.is_(True))
            .order_by(IntakeWorkflow.name, IntakeWorkflow.id)
        )
        return [
            _workflow_out(wf, ver)
            for wf, ver in rows
            if wf.location_id is None or ctx.can(INTAKE_DESIGN, wf.location_id) or ctx.can(INTAKE_FILL, wf.location_id)
        ]


def resolve_workflow(session: Session, location_id: uuid.UUID | None, visit_type: str) -> IntakeWorkflow | None:
    """Most specific active workflow: location+visit type, location, org+visit type, org default."""
    rows = list(
        session.scalars(
            select(IntakeWorkflow).where(
                IntakeWorkflow.active.is_(True),
                or_(IntakeWorkflow.location_id.is_(None), IntakeWorkflow.location_id == location_id),
                IntakeWorkflow.visit_type.in_([visit_type, ""]),
            )
        )
    )

    def rank(wf: IntakeWorkflow) -> tuple[int, int]:
        return (0 if wf.location_id is not None else 1, 0 if wf.visit_type == visit_type else 1)

    return min(rows, key=rank) if rows else None


# --- submissions ----------------------------------------------------------------------------------


def start_in(
    session: Session,
    ctx: Context,
    patient_id: uuid.UUID,
    location_id: uuid.UUID | None,
    visit_type: str,
    channel: str,
    *,
    workflow: IntakeWorkflow | None = None,
    appointment_id: uuid.UUID | None = None,
) -> IntakeSubmission:
    """A new open submission on the current version of the workflow (`workflow`, when the caller
    already resolved it), linked to the appointment when there is one."""
    wf = workflow or resolve_workflow(session, location_id, visit_type)
    if wf is None:
        raise NotFound("No intake workflow for this location and visit type", field="visit_type")
    ver = _current_version(session, wf)
    sub = IntakeSubmission(
        org_id=ctx.org_id,
        patient_id=patient_id,
        workflow_id=wf.id,
        version_id=ver.id,
        location_id=location_id,
        visit_type=visit_type,
        channel=channel,
        answers={},
        created_by=ctx.actor_id,
        appointment_id=appointment_id,
    )
    session.add(sub)
    session.flush()
    link_location(session, patient_id, location_id)
    audit.record(
        session,
        ctx,
        "intake.start",
        "intake_submission",
        sub.id,
        patient_id=patient_id,
        location_id=location_id,
        detail={"version": ver.version, "channel": channel},
    )
    return sub


def start_intake(
    ctx: Context,
    patient_id: uuid.UUID,
    location_id: uuid.UUID | None = None,
    visit_type: str = "",
    *,
    channel: str = "desk",
) -> SubmissionOut:
    """Open an intake for a patient with the workflow version current right now."""
    location_id = location_id or ctx.location_id
    ctx.require(INTAKE_FILL, location_id, what="location")
    with unit_of_work(ctx) as session:
        patient = load_patient(session, ctx, patient_id, PATIENTS_READ if ctx.has(PATIENTS_READ) else INTAKE_FILL)
        if location_id is not None:
            get_or_404(session, Location, location_id, "location")
        sub = start_in(session, ctx, patient.id, location_id, visit_type, channel)
        return SubmissionOut.model_validate(sub)


def load_submission(session: Session, ctx: Context, submission_id: uuid.UUID, permission: str) -> IntakeSubmission:
    sub = get_or_404(session, IntakeSubmission, submission_id, "intake")
    if sub.location_id is not None:
        ctx.require(permission, sub.location_id, what="intake")
    else:
        ctx.require(permission, what="intake")
    return sub


def version_definition(session: Session, sub: IntakeSubmission) -> tuple[dict[str, Any], int]:
    ver = get_or_404(session, IntakeWorkflowVersion, sub.version_id, "workflow version")
    return ver.definition, ver.version


def answer_problem(errors: list[d.AnswerError]) -> ValidationProblem:
    return ValidationProblem(
        "; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
        field=errors[0].field,
        errors=[{"field": e.field, "message": e.message} for e in errors],
    )


def answer_step(session: Session, ctx: Context, sub: IntakeSubmission, defn: dict[str, Any],
                step: int | None, raw: dict[str, Any], *, via: str) -> None:
    """Store one step's answers (or all) in the caller's transaction and audit it; every invalid
    answer is reported and nothing is stored then."""
    errors = save_step_in(session, sub, defn, step, raw)
    if errors:
        raise answer_problem(errors)
    audit.record(session, ctx, "intake.answer", "intake_submission", sub.id, patient_id=sub.patient_id,
                 location_id=sub.location_id, detail={"step": step, "via": via})


def save_step_in(
    session: Session, sub: IntakeSubmission, defn: dict[str, Any], step: int | None, raw: dict[str, Any]
) -> list[d.AnswerError]:
    """Validate and store answers for one step (or all); returns errors, storing nothing then."""
    if sub.status != "open":
        raise Conflict("This intake was already submitted")
    if step is not None and not 0 <= step < len(defn["steps"]):
        raise ValidationProblem("No such step", field="step")
    steps = range(len(defn["steps"])) if step is None else [step]
    keys = {f["key"] for i in steps for f in defn["steps"][i]["fields"]}
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ValidationProblem(f"Unknown field '{unknown[0]}'", field=unknown[0])
    previous = {k: v for k, v in sub.answers.items() if k not in keys}
    clean, errors = d.check_answers(defn, raw, step=step, previous=previous)
    if not errors:
        sub.answers = {**previous, **clean}
    return errors


def save_answers(
    ctx: Context, submission_id: uuid.UUID, answers: dict[str, Any], step: int | None = None
) -> SubmissionOut:
    """Store answers typed at the desk (one step or all); every invalid answer is reported."""
    with unit_of_work(ctx) as session:
        sub = load_submission(session, ctx, submission_id, INTAKE_FILL)
        defn, _ = version_definition(session, sub)
        answer_step(session, ctx, sub, defn, step, answers, via="desk")
        return SubmissionOut.model_validate(sub)


def submit_in(session: Session, ctx: Context, sub: IntakeSubmission, defn: dict[str, Any]) -> None:
    """Final check of every step; apply at once unless the workflow asks for staff review."""
    _, errors = d.check_answers(defn, sub.answers)
    if errors:
        raise answer_problem(errors)
    sub.submitted_at = now()
    raise_phq9_alerts(session, ctx, sub, defn)
    if defn.get("review_required"):
        sub.status = "submitted"
    else:
        sub.apply_notes = apply_submission(session, ctx, sub, defn)
        sub.status = "applied"
    audit.record(
        session,
        ctx,
        "intake.submit",
        "intake_submission",
        sub.id,
        patient_id=sub.patient_id,
        detail={"status": sub.status},
    )
    outbox.emit(
        session,
        "intake.submitted",
        {"submission_id": str(sub.id), "patient_id": str(sub.patient_id), "status": sub.status},
    )


def raise_phq9_alerts(session: Session, ctx: Context, sub: IntakeSubmission, defn: dict[str, Any]) -> None:
    """A PHQ-9 whose item 9 (thoughts of self-harm) is answered anything but "Not at all" raises a
    patient alert that a person must acknowledge, in the submission's own transaction (a badge
    on the submission alone is easy to miss when nobody opens it)."""
    for step in defn["steps"]:
        if step.get("kind") != "questionnaire" or not step["key"].startswith("phq9"):
            continue
        answer = sub.answers.get(f"{step['key']}_9")
        if answer is None or answer == d.PHQ9_OPTIONS[0]:
            continue
        score = d.score_phq9(sub.answers, step["key"])
        total = f" (PHQ-9 total {score['total']}, {score['severity']})" if score else ""
        raise_alert_in(session, ctx, sub.patient_id, kind="phq9_item9", severity="high",
                       message=f"PHQ-9 item 9 (thoughts of self-harm) answered “{answer}”{total} in an intake "
                               f"submitted {sub.submitted_at:%m/%d/%Y}; a clinician must follow up.",
                       source_type="intake_submission", source_id=sub.id)


def submit_intake(ctx: Context, submission_id: uuid.UUID) -> SubmissionOut:
    """Submit a desk-filled intake."""
    with unit_of_work(ctx) as session:
        sub = load_submission(session, ctx, submission_id, INTAKE_FILL)
        if sub.status != "open":
            raise Conflict("This intake was already submitted")
        defn, _ = version_definition(session, sub)
        submit_in(session, ctx, sub, defn)
        return SubmissionOut.model_validate(sub)


def review_intake(ctx: Context, submission_id: uuid.UUID, approve: bool, note: str = "", *,
                  payer_id: uuid.UUID | None = None) -> SubmissionOut:
    """Staff review: approve (apply answers to the registry) or reject. `payer_id` is the
    reviewer's fix when the insurance company the patient named is not in the directory."""
    with unit_of_work(ctx) as session:
        sub = load_submission(session, ctx, submission_id, INTAKE_REVIEW)
        if sub.status != "submitted":
            raise Conflict(f"Only submitted intakes can be reviewed (this one is {sub.status})")
        defn, _ = version_definition(session, sub)
        sub.reviewed_at, sub.reviewed_by, sub.review_note = now(), ctx.actor_id, note or None
        if approve:
            sub.apply_notes = apply_submission(session, ctx, sub, defn, payer_id=payer_id)
            sub.status = "applied"
        else:
            sub.status = "rejected"
        audit.record(
            session,
            ctx,
            "intake.review",
            "intake_submission",
            sub.id,
            patient_id=sub.patient_id,
            detail={"approve": approve},
        )
        return SubmissionOut.model_validate(sub)


def get_submission(ctx: Context, submission_id: uuid.UUID) -> SubmissionDetail:
    """One submission with the exact definition version it was filled against."""
    with unit_of_work(ctx) as session:
        sub = load_submission(session, ctx, submission_id, INTAKE_READ if ctx.has(INTAKE_READ) else INTAKE_FILL)
        if ctx.has(PATIENTS_READ):
            load_patient(session, ctx, sub.patient_id, PATIENTS_READ)
        defn, version = version_definition(session, sub)
        audit.record(session, ctx, "intake.read", "intake_submission", sub.id, patient_id=sub.patient_id)
        scores: dict[str, Any] = {}
        for step in defn["steps"]:
            if step.get("kind") == "questionnaire" and step["key"].startswith("phq9"):
                score = d.score_phq9(sub.answers, step["key"])
                if score:
                    scores[step["key"]] = score
        base = SubmissionOut.model_validate(sub).model_dump()
        return SubmissionDetail(**base, definition=defn, version=version, scores=scores)


def list_submissions(ctx: Context, patient_id: uuid.UUID) -> list[SubmissionOut]:
    """A patient's intake history, newest first (only locations the actor covers)."""
    with unit_of_work(ctx) as session:
        # Ends with an audit write. SQLite: lock first, so this panel and the patient page's other
        # panels (loaded at the same moment) wait their turn instead of failing on a stale read.
        write_lock(session)
        patient = load_patient(session, ctx, patient_id, PATIENTS_READ if ctx.has(PATIENTS_READ) else INTAKE_READ)
        rows = session.scalars(
            select(IntakeSubmission)
            .where(IntakeSubmission.patient_id == patient.id)
            .order_by(IntakeSubmission.created_at.desc())
        )
        out = [
            SubmissionOut.model_validate(s)
            for s in rows
            if s.location_id is None or ctx.can(INTAKE_READ, s.location_id) or ctx.can(INTAKE_FILL, s.location_id)
        ]
        audit.record(session, ctx, "intake.list", "patient", patient.id, patient_id=patient.id)
        return out


def iter_submissions(ctx: Context, *, updated_since: datetime | None = None, batch: int = 1000
                     ) -> Iterator[list[IntakeSubmission]]:
    """Every submission the caller may read, in batches by id (a FHIR bulk export); the caller audits.

    The rule of `list_submissions` applied to all patients at once: the patient is one the caller
    sees (under patients:read when held, else intake:read), and a submission tied to a location
    is at one of the caller's intake:read locations. A submission changed at or after
    `updated_since` (its creation when it predates `updated_at`) is included."""
    ctx.require(INTAKE_READ)
    scope = ctx.scope(INTAKE_READ)
    after: uuid.UUID | None = None
    while True:
        with unit_of_work(ctx) as session:
            stmt = select(IntakeSubmission)
            locations = visible_locations(session, ctx, PATIENTS_READ if ctx.has(PATIENTS_READ) else INTAKE_READ)
            if locations is not None:
                stmt = stmt.where(IntakeSubmission.patient_id.in_(
                    select(Patient.id).where(visibility_clause(locations))))
            if scope is not None:
                stmt = stmt.where(or_(IntakeSubmission.location_id.is_(None),
                                      IntakeSubmission.location_id.in_(sorted(scope))))
            if updated_since is not None:
                stmt = stmt.where(func.coalesce(IntakeSubmission.updated_at, IntakeSubmission.created_at)
                                  >= updated_since)
            if after is not None:
                stmt = stmt.where(IntakeSubmission.id > after)
            rows = list(session.scalars(stmt.order_by(IntakeSubmission.id).limit(batch)))
        if not rows:
            return
        yield rows
        after = rows[-1].id


STATUS_LABELS = {"open": "not started", "submitted": "to review", "applied": "done", "rejected": "rejected"}


def status_by_appointment(ctx: Context, location_id: uuid.UUID, appointment_ids: list[uuid.UUID]
                          ) -> dict[uuid.UUID, str]:
    """Appointment id -> its intake's status in words (`STATUS_LABELS`), for lists such as the day
    sheet of one location; appointments without an intake are left out, and so is everything for
    an actor who may not read intake there. The caller audits the patients it shows."""
    if not appointment_ids or not ctx.can(INTAKE_READ, location_id):
        return {}
    with unit_of_work(ctx) as session:
        rows = _STATUS_BY_APPOINTMENT.rows(session.connection(), {"org": ctx.org_id, "ids": appointment_ids})
    return {appointment_id: STATUS_LABELS.get(status, status) for appointment_id, status in rows}


_IS = IntakeSubmission.__table__
# One array parameter for the hundreds of appointments of a day sheet.
_STATUS_BY_APPOINTMENT = HotStatement(select(_IS.c.appointment_id, _IS.c.status).where(
    _IS.c.org_id == bindparam("org"), _IS.c.appointment_id.in_(bindparam("ids", expanding=True))))
