"""Jinja2 environment shared by every domain's screens (templates under templates/<domain>/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from praxis.platform.context import Context
from praxis.web.deps import current_context

ROOT = Path(__file__).resolve().parent.parent

# Every domain keeps its templates in <domain>/templates/<domain>/; the loader searches all.
_dirs = [str(p) for p in sorted(ROOT.glob("*/templates")) if p.is_dir()]
templates = Jinja2Templates(directory=_dirs)
templates.env.loader = ChoiceLoader([FileSystemLoader(_dirs)])
templates.env.autoescape = True

# Navigation: (label, path, permission, group) registered by each domain's ui module, shown
# grouped by work area in this order.
GROUPS = ("Front desk", "Patients", "Schedule", "Admin")
NAV: list[tuple[str, str, str, str]] = []

# A screen registered without a group goes to the work area its path belongs to (longest prefix).
_GROUP_BY_PATH = (
    ("/desk", "Front desk"),
    ("/patients/import", "Admin"),
    ("/patients", "Patients"),
    ("/payers", "Admin"),
    ("/scheduling/templates", "Admin"),
    ("/scheduling", "Schedule"),
    ("/intake/workflows", "Admin"),
    ("/intake", "Front desk"),
    ("/admin", "Admin"),
)


def group_for(path: str) -> str:
    best = max((p for p, _ in _GROUP_BY_PATH if path == p or path.startswith(p + "/")), key=len, default=None)
    return dict(_GROUP_BY_PATH).get(best, "Admin") if best else "Admin"


def register_nav(label: str, path: str, permission: str, group: str | None = None) -> None:
    entry = (label, path, permission, group or group_for(path))
    if entry not in NAV:
        NAV.append(entry)


def nav_for(ctx: Context | None, current_path: str = "") -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """The actor's navigation: [(group, [(label, path, is current)])] in GROUPS order; the current
    entry is the one whose path is the longest prefix of the page's path."""
    if ctx is None:
        return []
    allowed = [(label, path, group) for label, path, perm, group in NAV if ctx.has(perm)]
    current = max((path for _, path, _ in allowed if path != "/" and (current_path == path
                   or current_path.startswith(path + "/"))), key=len, default=None)
    out = []
    for g in (*GROUPS, *sorted({grp for *_, grp in allowed} - set(GROUPS))):
        items = [(label, path, path == current) for label, path, grp in allowed if grp == g]
        if items:
            out.append((g, items))
    return out


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page with the shell's variables: ctx, nav allowed to this actor, csrf token."""
    ctx = current_context(request)
    nav = nav_for(ctx, request.url.path)
    base = {
        "request": request,
        "ctx": ctx,
        "nav": nav,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "shell": getattr(request.state, "shell", None),
    }
    base.update(context or {})
    # Flash messages are coloured by severity; an answer that refuses something is an error,
    # whatever the screen forgot to say (an error is never shown as a success).
    if base.get("flash") and not base.get("flash_level"):
        base["flash_level"] = "error" if status_code >= 400 else "info"
    return templates.TemplateResponse(request, template, base, status_code=status_code)


def render_error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "web/error.html", {"title": title, "detail": detail, "status": status},
                  status_code=status)
