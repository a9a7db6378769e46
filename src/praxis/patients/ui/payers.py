"""The payer directory screen: list, add, edit, deactivate and reactivate the organisation's payers.

Everyone who reads patients sees the list (they pick payers on the patient page); changing it
takes `payers:manage`. Bad input re-renders the form with a message per field (422).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from praxis.patients import coverage
from praxis.patients.permissions import PATIENTS_READ, PAYERS_MANAGE
from praxis.patients.schemas import PayerIn, PayerOut
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(tags=["patients-ui"], include_in_schema=False)
register_nav("Payers", "/payers", PAYERS_MANAGE, "Admin")

FILING_INDICATORS = {
    "CI": "Commercial insurance", "MB": "Medicare Part B", "MA": "Medicare Part A", "MC": "Medicaid",
    "16": "Medicare Advantage (HMO)", "HM": "HMO", "12": "PPO", "13": "POS", "14": "EPO", "15": "Indemnity",
    "BL": "Blue Cross / Blue Shield", "CH": "TRICARE (CHAMPUS)", "VA": "Veterans Affairs",
    "WC": "Workers' compensation",
    "AM": "Automobile medical", "OF": "Other federal program", "DS": "Disability", "FI": "Federal employees program",
    "LM": "Liability medical", "TV": "Title V", "11": "Other non-federal program", "17": "Dental maintenance",
    "09": "Self-pay", "ZZ": "Mutually defined",
}
FIELDS = ("payer_code", "name", "address_line1", "address_line2", "city", "state", "postal_code",
          "claim_filing_indicator")


def _errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "form": e["msg"].removeprefix("Value error, ") for e in exc.errors()}


def _values(form: Any) -> dict[str, str]:
    values = {f: str(form.get(f) or "").strip() for f in FIELDS}
    values["state"] = values["state"].upper()
    values["claim_filing_indicator"] = values["claim_filing_indicator"] or "CI"
    return values


def _list(request: Request, ctx: Context, *, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, flash: str | None = None, status_code: int = 200) -> Response:
    return render(request, "patients/payers.html", {
        "payers": coverage.list_payers(ctx, include_inactive=True), "can_manage": ctx.has(PAYERS_MANAGE),
        "form": form or {"claim_filing_indicator": "CI"}, "errors": errors or {}, "ok": flash,
        "indicators": FILING_INDICATORS,
    }, status_code=status_code)


@router.get("/payers")
def payers_page(request: Request, ctx: Context = Depends(permission(PATIENTS_READ))) -> Response:
    return _list(request, ctx)


@router.post("/payers")
async def payer_add(request: Request, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> Response:
    values = _values(await request.form())
    try:
        await run_in_threadpool(coverage.create_payer, ctx, PayerIn.model_validate(values))
    except ValidationError as exc:
        return await run_in_threadpool(_list, request, ctx, form=values, errors=_errors(exc), status_code=422)
    except ProblemError as exc:
        return await run_in_threadpool(_list, request, ctx, form=values, errors={exc.field or "form": exc.detail},
                                       status_code=exc.status if exc.status in (409, 422) else 422)
    return RedirectResponse("/payers?added=1", status_code=303)


def _edit(request: Request, payer: PayerOut, *, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    return render(request, "patients/payer_edit.html", {
        "payer": payer, "form": form or payer.model_dump(), "errors": errors or {}, "indicators": FILING_INDICATORS,
    }, status_code=status_code)


@router.get("/payers/{payer_id}")
def payer_edit_page(request: Request, payer_id: str, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> Response:
    return _edit(request, coverage.get_payer(ctx, parse_id(payer_id, "payer")))


@router.post("/payers/{payer_id}")
async def payer_save(request: Request, payer_id: str, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> Response:
    pid = parse_id(payer_id, "payer")
    payer = await run_in_threadpool(coverage.get_payer, ctx, pid)  # 404 first, like any missing payer
    values = _values(await request.form())
    try:
        await run_in_threadpool(coverage.update_payer, ctx, pid, PayerIn.model_validate(values))
    except ValidationError as exc:
        return _edit(request, payer, form=values, errors=_errors(exc), status_code=422)
    except ProblemError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _edit(request, payer, form=values, errors={exc.field or "form": exc.detail},
                     status_code=exc.status if exc.status in (409, 422) else 422)
    return RedirectResponse("/payers?saved=1", status_code=303)


@router.post("/payers/{payer_id}/active")
async def payer_active(request: Request, payer_id: str, ctx: Context = Depends(permission(PAYERS_MANAGE))) -> Response:
    form = await request.form()
    active = str(form.get("active") or "") == "1"
    await run_in_threadpool(coverage.set_payer_active, ctx, parse_id(payer_id, "payer"), active)
    return RedirectResponse("/payers?" + ("reactivated=1" if active else "deactivated=1"), status_code=303)
