"""HTML screens of intake: the workflow editor (a form builder without JSON), desk filling and
review, the patient's intake history fragment, and the public patient-link pages.
"""

from __future__ import annotations

import copy
import functools
from datetime import date
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from praxis.intake import definition as d
from praxis.intake import links, queue, service
from praxis.intake.permissions import INTAKE_DESIGN, INTAKE_FILL, INTAKE_READ, INTAKE_REVIEW
from praxis.intake.schemas import WorkflowIn
from praxis.patients.coverage import list_payers
from praxis.patients.documents import max_bytes
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.platform.settings import get_settings
from praxis.practice.service import list_locations
from praxis.web.deps import client_ip, permission, public
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(tags=["intake-ui"], include_in_schema=False)

register_nav("Intake", "/intake/workflows", INTAKE_DESIGN)
register_nav("Intake review", "/intake/review", INTAKE_REVIEW)


# --- workflow editor ------------------------------------------------------------------------------


def _blank(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "review_required": True,
        "steps": [
            {
                "key": "about",
                "title": "About you",
                "kind": "demographics",
                "fields": [
                    {
                        "key": "first_name",
                        "label": "First name",
                        "type": "text",
                        "required": True,
                        "maps_to": "patient.first_name",
                    }
                ],
            }
        ],
    }


@router.get("/intake/workflows")
def workflows_page(request: Request, ctx: Context = Depends(permission(INTAKE_DESIGN))) -> Response:
    return render(
        request,
        "intake/workflows.html",
        {"workflows": service.list_workflows(ctx), "locations": list_locations(ctx), "error": None},
    )


@router.post("/intake/workflows")
async def create_workflow(request: Request, ctx: Context = Depends(permission(INTAKE_DESIGN))) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    loc = str(form.get("location_id") or "")
    try:
        data = WorkflowIn(
            name=name or "Intake",
            location_id=parse_id(loc, "location") if loc else None,
            visit_type=str(form.get("visit_type") or "").strip().lower(),
            definition=d.default_definition() if form.get("template") == "default" else _blank(name or "Intake"),
        )
        wf = await run_in_threadpool(service.create_workflow, ctx, data)
    except (ProblemError, ValueError) as exc:
        return render(
            request,
            "intake/workflows.html",
            {
                "workflows": await run_in_threadpool(service.list_workflows, ctx),
                "locations": await run_in_threadpool(list_locations, ctx),
                "error": getattr(exc, "detail", str(exc)),
            },
            status_code=422,
        )
    return RedirectResponse(f"/intake/workflows/{wf.id}", status_code=303)


def _editor(request: Request, ctx: Context, workflow_id: str, error: str | None = None, status: int = 200) -> Response:
    wf = service.get_workflow(ctx, parse_id(workflow_id, "workflow"))
    fields = d.all_fields(wf.definition)
    return render(
        request,
        "intake/editor.html",
        {
            "wf": wf,
            "defn": wf.definition,
            "fields": fields,
            "types": d.FIELD_TYPES,
            "kinds": d.STEP_KINDS,
            "targets": sorted(d.MAPPABLE),
            "error": error,
        },
        status_code=status,
    )


@router.get("/intake/workflows/{workflow_id}")
def editor_page(request: Request, workflow_id: str, ctx: Context = Depends(permission(INTAKE_DESIGN))) -> Response:
    return _editor(request, ctx, workflow_id)


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.replace("\n", ",").split(",") if v.strip()]


def _field_from(form: FormData, defn: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One field from the editor's field inputs (named `prefix` + label, key, type, ...)."""

    def get(name: str) -> str:
        return str(form.get(prefix + name) or "").strip()

    label = get("label")
    taken = {f["key"] for f in d.all_fields(defn)}
    field: dict[str, Any] = {
        "key": get("key") or d.field_key(label, taken, "q"),
        "label": label,
        "type": get("type") or "text",
        "required": prefix + "required" in form,
    }
    if field["type"] in ("select", "multiselect"):
        field["options"] = _split(get("options"))
    if get("maps_to"):
        field["maps_to"] = get("maps_to")
    if get("cond_field"):
        values = _split(get("cond_values"))
        parsed: list[Any] = [v == "true" if v in ("true", "false") else v for v in values]
        field["condition"] = (
            {"field": get("cond_field"), "op": "equals", "value": parsed[0] if parsed else ""}
            if len(parsed) <= 1
            else {"field": get("cond_field"), "op": "in", "values": parsed}
        )
    return field


def _edit(defn: dict[str, Any], form: FormData) -> dict[str, Any]:
    """Apply one editor action to a copy of the definition (validation happens on save)."""
    new = copy.deepcopy(defn)
    action = form.get("action")
    steps = new["steps"]

    def idx(name: str, limit: int) -> int:
        try:
            i = int(str(form.get(name)))
        except ValueError:
            raise ProblemError("Invalid position", field=name) from None
        if not 0 <= i < limit:
            raise ProblemError("Invalid position", field=name)
        return i

    if action == "settings":
        new["title"] = str(form.get("title") or "").strip()
        new["review_required"] = "review_required" in form
    elif action == "add_step":
        # A step is only valid with a field, so the step and its first field come in one form.
        title = str(form.get("title") or "").strip()
        steps.append(
            {
                "key": str(form.get("key") or "").strip() or d.field_key(title, {s["key"] for s in steps}, "step"),
                "title": title,
                "kind": str(form.get("kind") or "custom"),
                "fields": [_field_from(form, defn, "field_")],
            }
        )
    elif action == "remove_step":
        steps.pop(idx("step", len(steps)))
    elif action == "add_field":
        step = steps[idx("step", len(steps))]
        step["fields"].append(_field_from(form, defn))
    elif action == "remove_field":
        step = steps[idx("step", len(steps))]
        step["fields"].pop(idx("field", len(step["fields"])))
    elif action == "add_phq9":
        steps.append(d.phq9_step(f"phq9_{len(steps)}" if any(s["key"] == "phq9" for s in steps) else "phq9"))
    else:
        raise ProblemError("Unknown editor action", field="action")
    return new


@router.post("/intake/workflows/{workflow_id}")
async def edit_workflow(
    request: Request, workflow_id: str, ctx: Context = Depends(permission(INTAKE_DESIGN))
) -> Response:
    """Every change is saved as a new version when the result is a valid definition."""
    form = await request.form()
    try:
        wf = await run_in_threadpool(service.get_workflow, ctx, parse_id(workflow_id, "workflow"))
        new = _edit(wf.definition, form)
        await run_in_threadpool(service.save_workflow_version, ctx, wf.id, new)
    except ProblemError as exc:
        detail = exc.detail
        if exc.errors:
            detail = "; ".join(f"{e['field'].removeprefix('definition.')}: {e['message']}" for e in exc.errors)
        return await run_in_threadpool(_editor, request, ctx, workflow_id, error=detail, status=422)
    return RedirectResponse(f"/intake/workflows/{workflow_id}", status_code=303)


# --- patient history, desk filling, review --------------------------------------------------------


@router.get("/intake/patients/{patient_id}/history")
def history(request: Request, patient_id: str, ctx: Context = Depends(permission(INTAKE_READ))) -> Response:
    pid = parse_id(patient_id, "patient")
    subs = service.list_submissions(ctx, pid)
    template = "intake/_history.html" if request.headers.get("hx-request") else "intake/history.html"
    return render(
        request,
        template,
        {"subs": subs, "patient_id": pid, "can_fill": ctx.has(INTAKE_FILL), "link": None, "error": None},
    )


@router.post("/intake/patients/{patient_id}/start")
async def start(request: Request, patient_id: str, ctx: Context = Depends(permission(INTAKE_FILL))) -> Response:
    form = await request.form()
    pid = parse_id(patient_id, "patient")
    visit_type = str(form.get("visit_type") or "").strip().lower()
    try:
        if form.get("mode") == "link":
            link = await run_in_threadpool(links.send_intake_link, ctx, pid, None, visit_type)
            url = str(request.base_url).rstrip("/") + link.path
            subs = await run_in_threadpool(service.list_submissions, ctx, pid)
            return render(
                request,
                "intake/history.html",
                {
                    "subs": subs,
                    "patient_id": pid,
                    "can_fill": True,
                    "link": url,
                    "expires": link.expires_at,
                    "error": None,
                },
            )
        sub = await run_in_threadpool(service.start_intake, ctx, pid, None, visit_type)
    except ProblemError as exc:
        return render(
            request,
            "intake/history.html",
            {
                "subs": await run_in_threadpool(service.list_submissions, ctx, pid),
                "patient_id": pid,
                "can_fill": True,
                "link": None,
                "error": exc.detail,
            },
            status_code=exc.status,
        )
    return RedirectResponse(f"/intake/submissions/{sub.id}/fill?step=0", status_code=303)


@router.get("/intake/submissions/{submission_id}")
def submission_page(request: Request, submission_id: str, ctx: Context = Depends(permission(INTAKE_READ))) -> Response:
    sub = service.get_submission(ctx, parse_id(submission_id, "intake"))
    data: dict[str, Any] = {"s": sub, "fields": d.all_fields(sub.definition), "can_review": ctx.has(INTAKE_REVIEW),
                            "unknown_payer": None, "payers": []}
    if sub.status == "submitted" and ctx.has(INTAKE_REVIEW):
        # What approving could not apply is said before approving, with the fix at hand.
        data["unknown_payer"] = queue.unknown_payer(ctx, sub.definition, sub.answers)
        if data["unknown_payer"]:
            data["payers"] = list_payers(ctx)
    return render(request, "intake/submission.html", data)


@router.post("/intake/submissions/{submission_id}/review")
async def review(request: Request, submission_id: str, ctx: Context = Depends(permission(INTAKE_REVIEW))) -> Response:
    form = await request.form()
    payer = str(form.get("payer_id") or "")
    await run_in_threadpool(
        functools.partial(service.review_intake, payer_id=parse_id(payer, "payer") if payer else None),
        ctx,
        parse_id(submission_id, "intake"),
        form.get("decision") == "approve",
        str(form.get("note") or "")[:2000],
    )
    return RedirectResponse(f"/intake/submissions/{submission_id}", status_code=303)


@router.get("/intake/review")
def review_queue_page(request: Request, ctx: Context = Depends(permission(INTAKE_REVIEW))) -> Response:
    items = queue.review_queue(ctx)
    names = {loc.id: loc.name for loc in list_locations(ctx, permission=INTAKE_REVIEW)}
    return render(request, "intake/review_queue.html", {"items": items, "locations": names})


def form_answers(step: dict[str, Any], form: FormData) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """Turn a submitted step form into raw answers (and uploaded files) for the service."""
    raw: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for f in step["fields"]:
        key, ftype = f["key"], f["type"]
        if ftype == "multiselect":
            raw[key] = [v for v in form.getlist(key) if isinstance(v, str)]
        elif ftype == "checkbox":
            raw[key] = key in form
        elif ftype == "signature":
            raw[key] = {"name": str(form.get(key) or ""), "agreed": f"{key}__agreed" in form}
        elif ftype == "file":
            upload = form.get(key)
            if isinstance(upload, UploadFile) and upload.filename:
                files[key] = (upload.filename, upload.file.read(max_bytes() + 1))
        else:
            value = form.get(key)
            raw[key] = value if isinstance(value, str) else ""
    return raw, files


def _step_context(defn: dict[str, Any], answers: dict[str, Any], step: int) -> dict[str, Any]:
    shown = d.visible_keys(defn, answers)
    current = defn["steps"][step]
    own = {f["key"] for f in current["fields"]}
    # Conditions on earlier steps are decided by their answers; those within this step are shown
    # with a hint (no script needed) and the server drops answers whose condition does not hold.
    visible = [f for f in current["fields"] if f["key"] in shown or (f.get("condition") or {}).get("field") in own]
    labels = {f["key"]: f["label"] for f in d.all_fields(defn)}
    return {
        "step": step,
        "steps": defn["steps"],
        "fields": visible,
        "answers": answers,
        "labels": labels,
        "last": step == len(defn["steps"]) - 1,
        "title": defn["title"],
    }


@router.get("/intake/submissions/{submission_id}/fill")
def fill_page(
    request: Request, submission_id: str, step: int = 0, ctx: Context = Depends(permission(INTAKE_FILL))
) -> Response:
    sub = service.get_submission(ctx, parse_id(submission_id, "intake"))
    step = max(0, min(step, len(sub.definition["steps"]) - 1))
    return render(
        request,
        "intake/fill.html",
        {
            **_step_context(sub.definition, sub.answers, step),
            "action": f"/intake/submissions/{sub.id}/fill?step={step}",
            "errors": {},
            "public": False,
            "s": sub,
        },
    )


@router.post("/intake/submissions/{submission_id}/fill")
async def fill_step(
    request: Request, submission_id: str, step: int = 0, ctx: Context = Depends(permission(INTAKE_FILL))
) -> Response:
    form = await request.form()
    sid = parse_id(submission_id, "intake")
    sub = await run_in_threadpool(service.get_submission, ctx, sid)
    step = max(0, min(step, len(sub.definition["steps"]) - 1))
    raw, _files = form_answers(sub.definition["steps"][step], form)
    try:
        await run_in_threadpool(service.save_answers, ctx, sid, raw, step)
        if step == len(sub.definition["steps"]) - 1:
            await run_in_threadpool(service.submit_intake, ctx, sid)
            return RedirectResponse(f"/intake/submissions/{sid}", status_code=303)
    except ProblemError as exc:
        errors = {e["field"]: e["message"] for e in exc.errors} or {exc.field or "form": exc.detail}
        merged = {**sub.answers, **{k: v for k, v in raw.items() if not isinstance(v, dict)}}
        return render(
            request,
            "intake/fill.html",
            {
                **_step_context(sub.definition, merged, step),
                "action": f"/intake/submissions/{sid}/fill?step={step}",
                "errors": errors,
                "public": False,
                "s": sub,
            },
            status_code=422,
        )
    return RedirectResponse(f"/intake/submissions/{sid}/fill?step={step + 1}", status_code=303)


# --- public patient link --------------------------------------------------------------------------


def _closed(request: Request, exc: ProblemError) -> Response:
    return render(
        request, "intake/link_closed.html", {"message": exc.detail, "status": exc.status}, status_code=exc.status
    )


PROOF_COOKIE = "praxis_intake_verified"


@router.get("/intake/l/{token}")
def link_page(request: Request, token: str, step: int = 0, verify: str | None = None,
              _ctx: Context | None = Depends(public)) -> Response:
    proof = request.cookies.get(PROOF_COOKIE)
    try:
        view = links.view_link(token, client_ip(request), verified=proof)
    except ProblemError as exc:  # LinkClosed included
        return _closed(request, exc)
    step = max(0, min(step, len(view.steps) - 1))
    defn = {"title": view.title, "steps": view.steps}
    return render(
        request,
        "intake/fill.html",
        {
            **_step_context(defn, view.answers, step),
            "action": f"/intake/l/{token}?step={step}",
            "errors": {},
            "public": True,
            "payer_names": view.payer_names,
            "offer_verify": view.knows_patient and not proof and step == 0,
            "verify_action": f"/intake/l/{token}/verify",
            "verify_failed": verify == "no",
        },
    )


@router.post("/intake/l/{token}/verify")
async def link_verify(request: Request, token: str, _ctx: Context | None = Depends(public)) -> Response:
    """The patient confirms their date of birth; the form then shows what the record knows."""
    form = await request.form()
    try:
        dob: date | None = date.fromisoformat(str(form.get("dob") or ""))
    except ValueError:
        dob = None  # the link is still checked first: a bad or closed link answers 404/410
    try:
        proof = await run_in_threadpool(links.verify_birth_date, token, client_ip(request), dob)
    except ProblemError as exc:
        return _closed(request, exc)
    if proof is None:
        return RedirectResponse(f"/intake/l/{token}?verify=no", status_code=303)
    response = RedirectResponse(f"/intake/l/{token}?step=0", status_code=303)
    response.set_cookie(PROOF_COOKIE, proof, max_age=links.DEFAULT_HOURS * 3600, path=f"/intake/l/{token}",
                        httponly=True, samesite="strict", secure=get_settings().cookie_secure)
    return response


@router.post("/intake/l/{token}")
async def link_step(request: Request, token: str, step: int = 0, _ctx: Context | None = Depends(public)) -> Response:
    form = await request.form()
    ip = client_ip(request)
    try:
        view = await run_in_threadpool(
            functools.partial(links.view_link, verified=request.cookies.get(PROOF_COOKIE)), token, ip)
    except ProblemError as exc:
        return _closed(request, exc)
    step = max(0, min(step, len(view.steps) - 1))
    raw, files = form_answers(view.steps[step], form)
    defn = {"title": view.title, "steps": view.steps}
    try:
        await run_in_threadpool(links.save_link_step, token, ip, step, raw, files)
        if step == len(view.steps) - 1:
            await run_in_threadpool(links.submit_link, token, ip)
            return render(
                request,
                "intake/link_closed.html",
                {"message": "Thank you! Your answers were sent to the clinic.", "status": 200, "done": True},
            )
    except links.LinkClosed as exc:
        return _closed(request, exc)
    except ProblemError as exc:
        if exc.status == 404 or exc.status == 429:
            return _closed(request, exc)
        errors = {e["field"]: e["message"] for e in exc.errors} or {exc.field or "form": exc.detail}
        merged = {**view.answers, **{k: v for k, v in raw.items() if not isinstance(v, dict)}}
        return render(
            request,
            "intake/fill.html",
            {
                **_step_context(defn, merged, step),
                "action": f"/intake/l/{token}?step={step}",
                "errors": errors,
                "public": True,
                "payer_names": view.payer_names,
            },
            status_code=422,
        )
    return RedirectResponse(f"/intake/l/{token}?step={step + 1}", status_code=303)
