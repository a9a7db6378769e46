"""FHIR QuestionnaireResponse over intake submissions (read and search by patient)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response

from praxis.formats.fhir import build
from praxis.intake import service as intake
from praxis.interop import fhir_search
from praxis.interop.api.fhir import Params, fhir_response, parse_id, router, scope, searchset
from praxis.platform.context import Context
from praxis.platform.errors import ValidationProblem


@router.get("/QuestionnaireResponse/{questionnaire_response_id}")
def read_questionnaire_response(questionnaire_response_id: str,
                                ctx: Context = Depends(scope("QuestionnaireResponse", "read"))) -> Response:
    sub = intake.get_submission(ctx, parse_id(questionnaire_response_id, "questionnaire response"))
    return fhir_response(build.questionnaire_response(sub))


@router.get("/QuestionnaireResponse")
def search_questionnaire_response(request: Request, ctx: Context = Depends(scope("QuestionnaireResponse", "read"))
                                  ) -> Response:
    """A patient's intake answers: patient or subject (required), status."""
    p = Params(request, "QuestionnaireResponse")
    q = fhir_search.questionnaire_response_query(p)
    if q.patient_id is None:
        raise ValidationProblem("Give patient (or subject)", field="patient", status=400)
    resources = [build.questionnaire_response(s) for s in intake.list_submissions(ctx, q.patient_id) if q.match(s)]
    return searchset(request, p, resources[p.offset:p.offset + p.count + 1], lambda r: r)
