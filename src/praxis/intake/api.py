"""JSON API of intake: workflows (design), submissions (desk), review, and the public link."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from praxis.intake import definition, links, service
from praxis.intake.permissions import INTAKE_DESIGN, INTAKE_FILL, INTAKE_READ, INTAKE_REVIEW
from praxis.intake.schemas import (
    AnswersIn,
    IntakeStartIn,
    LinkIn,
    LinkOut,
    ReviewIn,
    SubmissionDetail,
    SubmissionOut,
    WorkflowIn,
    WorkflowOut,
    WorkflowVersionIn,
)
from praxis.platform.context import Context
from praxis.platform.ids import parse_id
from praxis.web.deps import client_ip, permission, public
from praxis.web.paging import PAGED, Pager
from praxis.web.routes import Router

router = Router(prefix="/api/v1/intake", tags=["intake"])


@router.get("/workflows", response_model=list[WorkflowOut])
def list_workflows(ctx: Context = Depends(permission(INTAKE_DESIGN)), page: Pager = PAGED) -> list[WorkflowOut]:
    return page.of(service.list_workflows(ctx))


@router.post("/workflows", response_model=WorkflowOut, status_code=201)
def create_workflow(data: WorkflowIn, ctx: Context = Depends(permission(INTAKE_DESIGN))) -> WorkflowOut:
    """Create a workflow; an invalid definition answers 422 with every problem by position."""
    return service.create_workflow(ctx, data)


@router.post("/definitions/validate")
def validate_definition(body: dict[str, Any], _ctx: Context = Depends(permission(INTAKE_DESIGN))) -> dict[str, Any]:
    """Check a definition without saving it."""
    errors = definition.validate_definition(body)
    return {"valid": not errors, "errors": [{"path": e.path, "message": e.message} for e in errors]}


@router.get("/templates/default")
def default_template(_ctx: Context = Depends(permission(INTAKE_DESIGN))) -> dict[str, Any]:
    """The built-in starting definition (demographics, insurance, consents, PHQ-9)."""
    return definition.default_definition()


@router.get("/workflows/{workflow_id}", response_model=WorkflowOut)
def get_workflow(workflow_id: str, ctx: Context = Depends(permission(INTAKE_DESIGN))) -> WorkflowOut:
    return service.get_workflow(ctx, parse_id(workflow_id, "workflow"))


@router.post("/workflows/{workflow_id}/versions", response_model=WorkflowOut, status_code=201)
def save_version(
    workflow_id: str, data: WorkflowVersionIn, ctx: Context = Depends(permission(INTAKE_DESIGN))
) -> WorkflowOut:
    """Save an edited definition as a new version (submissions keep theirs)."""
    return service.save_workflow_version(ctx, parse_id(workflow_id, "workflow"), data.definition)


@router.post("/submissions", response_model=SubmissionOut, status_code=201)
def start(data: IntakeStartIn, ctx: Context = Depends(permission(INTAKE_FILL))) -> SubmissionOut:
    return service.start_intake(ctx, data.patient_id, data.location_id, data.visit_type)


@router.get("/submissions/{submission_id}", response_model=SubmissionDetail)
def get_submission(submission_id: str, ctx: Context = Depends(permission(INTAKE_READ))) -> SubmissionDetail:
    return service.get_submission(ctx, parse_id(submission_id, "intake"))


@router.put("/submissions/{submission_id}/answers", response_model=SubmissionOut)
def save_answers(submission_id: str, data: AnswersIn, ctx: Context = Depends(permission(INTAKE_FILL))) -> SubmissionOut:
    return service.save_answers(ctx, parse_id(submission_id, "intake"), data.answers, data.step)


@router.post("/submissions/{submission_id}/submit", response_model=SubmissionOut)
def submit(submission_id: str, ctx: Context = Depends(permission(INTAKE_FILL))) -> SubmissionOut:
    return service.submit_intake(ctx, parse_id(submission_id, "intake"))


@router.post("/submissions/{submission_id}/review", response_model=SubmissionOut)
def review(submission_id: str, data: ReviewIn, ctx: Context = Depends(permission(INTAKE_REVIEW))) -> SubmissionOut:
    return service.review_intake(ctx, parse_id(submission_id, "intake"), data.approve, data.note)


@router.post("/submissions/{submission_id}/links", response_model=LinkOut, status_code=201)
def create_link(submission_id: str, data: LinkIn, ctx: Context = Depends(permission(INTAKE_FILL))) -> LinkOut:
    """A patient link (default 72 h) to this intake; earlier links to it stop working."""
    return links.create_link(ctx, parse_id(submission_id, "intake"), data.hours)


@router.get("/patients/{patient_id}/submissions", response_model=list[SubmissionOut])
def patient_history(patient_id: str, ctx: Context = Depends(permission(INTAKE_READ)),
                    page: Pager = PAGED) -> list[SubmissionOut]:
    return page.of(service.list_submissions(ctx, parse_id(patient_id, "patient")))


# --- public link (no login; the token is the credential) ------------------------------------------


@router.get("/link/{token}")
def view_link(token: str, request: Request, _ctx: Context | None = Depends(public)) -> dict[str, Any]:
    v = links.view_link(token, client_ip(request))
    return {
        "title": v.title,
        "steps": v.steps,
        "answers": v.answers,
        "status": v.status,
        "expires_at": v.expires_at.isoformat(),
    }


@router.put("/link/{token}/steps/{step}")
def save_link_step(
    token: str, step: int, data: AnswersIn, request: Request, _ctx: Context | None = Depends(public)
) -> dict[str, Any]:
    v = links.save_link_step(token, client_ip(request), step, data.answers)
    return {"answers": v.answers, "status": v.status}


@router.post("/link/{token}/submit")
def submit_link(token: str, request: Request, _ctx: Context | None = Depends(public)) -> dict[str, str]:
    links.submit_link(token, client_ip(request))
    return {"status": "submitted"}
