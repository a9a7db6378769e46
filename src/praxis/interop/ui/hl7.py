"""The HL7 screen of an organisation's integration admin: the inbound log (filter by status;
a failed or rejected message shows its error and a Replay button), one message's raw text and
ACK (an audited read), the outbound log with Resend for dead rows, and one outbound message as
sent with the ACK received (an audited read) and Resend.

Thin: the rules are in interop.hl7.log. A refusal (replaying a processed message) re-renders the
log with the message.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from praxis.interop.hl7 import log
from praxis.interop.permissions import HL7_MANAGE
from praxis.platform.context import Context
from praxis.platform.errors import ProblemError
from praxis.platform.ids import parse_id
from praxis.web.deps import permission
from praxis.web.routes import Router
from praxis.web.templating import register_nav, render

router = Router(include_in_schema=False)

register_nav("HL7 messages", "/admin/hl7", HL7_MANAGE, "Admin")

PAGE = 50
_HEX = re.compile(r"[0-9a-f]{32}")
ACK_MEANING = {"AA": "processed", "AE": "failed again", "AR": "rejected again"}


def _after(after_at: str, after_row: str) -> tuple[datetime, uuid.UUID] | None:
    """The position of an "Older" link (the last row shown); anything else starts at the newest."""
    try:
        at = datetime.fromisoformat(after_at)
        return (at, uuid.UUID(after_row)) if at.tzinfo is not None else None
    except ValueError:
        return None


def _page(request: Request, ctx: Context, view: str, status: str, after_at: str = "", after_row: str = "",
          status_code: int = 200, **extra: Any) -> Response:
    view = view if view in ("inbound", "outbound") else "inbound"
    statuses = log.MESSAGE_STATUSES if view == "inbound" else log.OUTBOUND_STATUSES
    status = status if status in statuses else ""
    after = _after(after_at, after_row)
    rows: list[Any] = (log.list_messages if view == "inbound" else log.list_outbound)(
        ctx, status=status or None, limit=PAGE + 1, after=after)
    last = rows[PAGE - 1] if len(rows) > PAGE else None
    older = (last.received_at if view == "inbound" else last.created_at, last.id) if last else None
    return render(request, "interop/hl7.html", {
        "view": view, "status": status, "statuses": statuses, "rows": rows[:PAGE], "paged": after is not None,
        "older": {"after_at": older[0].isoformat(), "after_row": str(older[1])} if older else None,
        "counts": log.message_counts(ctx) if view == "inbound" else {}, **extra,
    }, status_code=status_code)


@router.get("/admin/hl7")
def messages(request: Request, view: str = "inbound", status: str = "", after_at: str = "", after_row: str = "",
             replayed: str = "", code: str = "", resent: str = "",
             ctx: Context = Depends(permission(HL7_MANAGE))) -> Response:
    extra: dict[str, Any] = {}
    if _HEX.fullmatch(replayed) and code in ACK_MEANING:  # after a replay (POST, then redirect here)
        extra = {"flash": f"Message replayed: ACK {code}, {ACK_MEANING[code]}.",
                 "flash_level": "ok" if code == "AA" else "warn"}
    elif _HEX.fullmatch(resent):
        extra = {"flash": "Outbound message queued again: the worker sends it next.", "flash_level": "ok"}
    return _page(request, ctx, view, status, after_at[:64], after_row[:64], **extra)


@router.get("/admin/hl7/messages/{message_id}")
def message(request: Request, message_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> Response:
    msg = log.get_message(ctx, parse_id(message_id, "HL7 message"))
    return render(request, "interop/hl7_message.html", {
        "msg": msg, "ack_segments": [s for s in msg.ack.replace("\n", "\r").split("\r") if s],
    })


@router.post("/admin/hl7/messages/{message_id}/replay")
def replay(request: Request, message_id: str, ctx: Context = Depends(permission(HL7_MANAGE))) -> Response:
    try:
        done = log.replay_message(ctx, parse_id(message_id, "HL7 message"))
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _page(request, ctx, "inbound", "", status_code=exc.status if 400 <= exc.status < 500 else 400,
                     flash=exc.detail, flash_level="error")
    # Redirect, so that reloading the log does not replay the message once more.
    return RedirectResponse(f"/admin/hl7?replayed={done.message.id.hex}&code={done.ack_code}", status_code=303)


def _outbound_page(request: Request, ctx: Context, outbound_id: uuid.UUID, status_code: int = 200,
                   **extra: Any) -> Response:
    return render(request, "interop/hl7_outbound.html", {"out": log.get_outbound(ctx, outbound_id), **extra},
                  status_code=status_code)


@router.get("/admin/hl7/outbound/{outbound_id}")
def outbound_message(request: Request, outbound_id: str, resent: str = "",
                     ctx: Context = Depends(permission(HL7_MANAGE))) -> Response:
    extra: dict[str, Any] = {}
    if resent == "1":  # after a resend from this page (POST, then redirect here)
        extra = {"flash": "Queued again: the worker sends it next.", "flash_level": "ok"}
    return _outbound_page(request, ctx, parse_id(outbound_id, "HL7 outbound message"), **extra)


@router.post("/admin/hl7/outbound/{outbound_id}/resend")
def resend(request: Request, outbound_id: str, back: str = "",
           ctx: Context = Depends(permission(HL7_MANAGE))) -> Response:
    oid = parse_id(outbound_id, "HL7 outbound message")
    try:
        row = log.resend_outbound(ctx, oid)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        status_code = exc.status if 400 <= exc.status < 500 else 400
        if back == "detail":
            return _outbound_page(request, ctx, oid, status_code, flash=exc.detail, flash_level="error")
        return _page(request, ctx, "outbound", "", status_code=status_code, flash=exc.detail, flash_level="error")
    # Redirect, so that reloading the page does not queue the message once more.
    if back == "detail":
        return RedirectResponse(f"/admin/hl7/outbound/{row.id}?resent=1", status_code=303)
    return RedirectResponse(f"/admin/hl7?view=outbound&resent={row.id.hex}", status_code=303)
