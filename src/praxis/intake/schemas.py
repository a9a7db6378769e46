"""Pydantic shapes at the edge of the intake domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from praxis.platform.schemas import StrictModel

VisitType = Annotated[str, Field(max_length=60, pattern=r"^[a-z0-9_-]*$")]


class WorkflowIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    location_id: uuid.UUID | None = None
    visit_type: VisitType = ""
    definition: dict[str, Any]


class WorkflowVersionIn(StrictModel):
    definition: dict[str, Any]


class WorkflowOut(BaseModel):
    id: uuid.UUID
    name: str
    location_id: uuid.UUID | None
    visit_type: str
    current_version: int
    current_version_id: uuid.UUID
    active: bool
    definition: dict[str, Any]
    updated_at: datetime


class IntakeStartIn(StrictModel):
    patient_id: uuid.UUID
    location_id: uuid.UUID | None = None
    visit_type: VisitType = ""


class AnswersIn(StrictModel):
    step: Annotated[int, Field(ge=0)] | None = None
    answers: dict[str, Any]


class ReviewIn(StrictModel):
    approve: bool
    note: Annotated[str, Field(max_length=2000)] = ""


class LinkIn(StrictModel):
    hours: Annotated[int, Field(ge=1, le=336)] = 72


class LinkOut(BaseModel):
    token: str
    path: str
    expires_at: datetime


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    location_id: uuid.UUID | None
    visit_type: str
    status: str
    channel: str
    answers: dict[str, Any]
    apply_notes: list[Any] | None
    review_note: str | None
    created_at: datetime
    submitted_at: datetime | None
    reviewed_at: datetime | None
    updated_at: datetime | None = Field(default=None, description="last change (for `updated_since`)")


class SubmissionDetail(SubmissionOut):
    definition: dict[str, Any]
    version: int
    scores: dict[str, Any] = {}
