"""The webhooks screen of an organisation's integration admin: subscriptions (create, pause,
resume, rotate the secret, shown once) and each one's delivery log with Replay.

Thin: every rule is in interop.webhooks. A problem raised by the service re-renders the page with
the message and the field at fault.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from praxis.interop import webhooks
from praxis.interop.permissions import WEBHOOKS_MANAGE
from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)

register_nav("Webhooks", "/admin/webhooks", WEBHOOKS_MANAGE, "Admin")

STATUSES = ("pending", "delivered", "dead")


def _error(exc: ProblemError) -> dict[str, Any]:
    return {"error": exc.detail, "error_field": exc.field}


def _status(exc: ProblemError) -> int:
    return exc.status if 400 <= exc.status < 500 else 400


def _list_page(request: Request, ctx: Context, status_code: int = 200, **extra: Any) -> Response:
    return render(request, "interop/webhooks.html", {
        "subscriptions": webhooks.list_subscriptions(ctx),
        "counts": webhooks.delivery_counts(ctx),
        "event_types": list(webhooks.EVENTS),
        "form": extra.pop("form", {}),
        **extra,
    }, status_code=status_code)


def _detail_page(request: Request, ctx: Context, subscription_id: uuid.UUID, status: str = "",
                 status_code: int = 200, **extra: Any) -> Response:
    sub = webhooks.get_subscription(ctx, subscription_id)
    rows = webhooks.list_deliveries(ctx, subscription_id, status=status or None)
    return render(request, "interop/webhook_detail.html", {
        "sub": sub, "deliveries": rows, "status": status, "statuses": STATUSES, "now": now(),
        "event_types": list(webhooks.EVENTS), **extra,
    }, status_code=status_code)


@router.get("/admin/webhooks")
def subscriptions(request: Request, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    return _list_page(request, ctx)


@router.post("/admin/webhooks")
def create(request: Request, url: str = Form(""), event_types: list[str] = Form(default=[]),
           description: str = Form(""), ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    form = {"url": url, "event_types": event_types, "description": description}
    try:
        sub, secret = webhooks.create_subscription(ctx, url[:500], event_types[:50], description=description[:200])
    except ProblemError as exc:
        return _list_page(request, ctx, status_code=_status(exc), form=form, **_error(exc))
    return _list_page(request, ctx, created=sub, secret=secret)


@router.get("/admin/webhooks/{subscription_id}")
def detail(request: Request, subscription_id: str, status: str = "", replayed: str = "",
           ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    extra: dict[str, Any] = {}
    if re.fullmatch(r"[0-9a-f]{32}", replayed):  # after a replay (POST, then redirect here)
        extra = {"flash": f"Delivery msg_{replayed} queued again: the worker sends it next.", "flash_level": "ok"}
    return _detail_page(request, ctx, parse_id(subscription_id, "subscription"),
                        status=status if status in STATUSES else "", **extra)


@router.post("/admin/webhooks/{subscription_id}")
def update(request: Request, subscription_id: str, url: str = Form(""), event_types: list[str] = Form(default=[]),
           description: str = Form(""), ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    sid = parse_id(subscription_id, "subscription")
    try:
        webhooks.update_subscription(ctx, sid, url=url[:500], event_types=event_types[:50],
                                     description=description[:200])
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _detail_page(request, ctx, sid, status_code=_status(exc),
                            form={"url": url, "event_types": event_types, "description": description}, **_error(exc))
    return _detail_page(request, ctx, sid, flash="Subscription saved.", flash_level="ok")


@router.post("/admin/webhooks/{subscription_id}/pause")
def pause(request: Request, subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    sub = webhooks.set_active(ctx, parse_id(subscription_id, "subscription"), False)
    return RedirectResponse(f"/admin/webhooks/{sub.id}", status_code=303)


@router.post("/admin/webhooks/{subscription_id}/resume")
def resume(request: Request, subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    sub = webhooks.set_active(ctx, parse_id(subscription_id, "subscription"), True)
    return RedirectResponse(f"/admin/webhooks/{sub.id}", status_code=303)


@router.post("/admin/webhooks/{subscription_id}/rotate-secret")
def rotate(request: Request, subscription_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    sub, secret = webhooks.rotate_secret(ctx, parse_id(subscription_id, "subscription"))
    return _detail_page(request, ctx, sub.id, secret=secret)


@router.post("/admin/webhooks/deliveries/{delivery_id}/replay")
def replay(request: Request, delivery_id: str, ctx: Context = Depends(permission(WEBHOOKS_MANAGE))) -> Response:
    d = webhooks.replay(ctx, parse_id(delivery_id, "delivery"))
    # Redirect, so that reloading the log does not send the delivery once more.
    return RedirectResponse(f"/admin/webhooks/{d.subscription_id}?replayed={d.id.hex}", status_code=303)
