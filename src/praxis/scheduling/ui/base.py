"""The scheduling screens' router and the helpers its page modules share (ui/__init__.py,
ui/booking.py, ui/grid.py register their routes on this one router, so wiring sees one scheduling UI router)."""

from __future__ import annotations

from datetime import date
from typing import Any

from praxis.platform.clock import now
from praxis.platform.context import Context
from praxis.platform.ids import parse_id
from praxis.practice.service import list_locations
from praxis.scheduling.availability import to_local
from praxis.web.routes import Router

router = Router(include_in_schema=False)


def pick_location(ctx: Context, permission_name: str, location_id: str | None) -> tuple[list[Any], Any]:
    """(locations the actor may use for `permission_name`, the chosen one or the actor's current)."""
    locations = list_locations(ctx, permission=permission_name)
    chosen = None
    if location_id:
        lid = parse_id(location_id, "location")
        chosen = next((loc for loc in locations if loc.id == lid), None)
    if chosen is None and ctx.location_id:
        chosen = next((loc for loc in locations if loc.id == ctx.location_id), None)
    return locations, chosen or (locations[0] if locations else None)


def local_today(timezone: str) -> date:
    return to_local(now(), timezone).date()


def parse_day(value: str | None, field: str, label: str) -> tuple[date | None, str | None]:
    """A date typed in a form: (the date, None), (None, None) when empty, or (None, a message)."""
    if not value or not value.strip():
        return None, None
    try:
        return date.fromisoformat(value.strip()), None
    except ValueError:
        return None, f"{label}: “{value[:20]}” is not a date; use the date picker or YYYY-MM-DD."


def hm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
