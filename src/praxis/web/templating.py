"""Jinja2 environment shared by every domain's screens (templates under templates/<domain>/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from praxis.web.deps import current_context

ROOT = Path(__file__).resolve().parent.parent

# Every domain keeps its templates in <domain>/templates/<domain>/; the loader searches all.
_dirs = [str(p) for p in sorted(ROOT.glob("*/templates")) if p.is_dir()]
templates = Jinja2Templates(directory=_dirs)
templates.env.loader = ChoiceLoader([FileSystemLoader(_dirs)])
templates.env.autoescape = True

# Navigation: (label, path, permission) registered by each domain's ui module.
NAV: list[tuple[str, str, str]] = []


def register_nav(label: str, path: str, permission: str) -> None:
    if (label, path, permission) not in NAV:
        NAV.append((label, path, permission))


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """Render a page with the shell's variables: ctx, nav allowed to this actor, csrf token."""
    ctx = current_context(request)
    nav = [(label, path) for label, path, perm in NAV if ctx is not None and ctx.has(perm)]
    base = {
        "request": request,
        "ctx": ctx,
        "nav": nav,
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "shell": getattr(request.state, "shell", None),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, template, base, status_code=status_code)


def render_error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "web/error.html", {"title": title, "detail": detail, "status": status},
                  status_code=status)
