"""The appointment status machine (pure).

    booked ──confirm──> confirmed
    booked/confirmed ──check_in──> checked_in ──room──> roomed ──check_out──> checked_out
    checked_in ──check_out──> checked_out          (seen without a room)
    booked/confirmed ──cancel──> cancelled
    booked/confirmed ──no_show──> no_show          (only once the start time has passed)
    checked_in/roomed ──undo──> previous step      (a mis-click at the desk)
    booked/confirmed ──reschedule──> booked        (moves the same appointment)
    booked/confirmed ──change_visit_type──> same   (same time, another visit type and length)

Everything else is refused with a sentence that says why and what is possible instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from praxis.platform.errors import Conflict

Status = Literal["booked", "confirmed", "checked_in", "roomed", "checked_out", "cancelled", "no_show"]
Action = Literal["confirm", "check_in", "room", "check_out", "cancel", "no_show", "reschedule",
                 "change_visit_type", "undo_check_in", "undo_room"]

STATUSES: tuple[Status, ...] = ("booked", "confirmed", "checked_in", "roomed", "checked_out",
                                "cancelled", "no_show")

TRANSITIONS: dict[str, dict[str, str]] = {
    "confirm": {"booked": "confirmed", "confirmed": "confirmed"},
    "check_in": {"booked": "checked_in", "confirmed": "checked_in"},
    "room": {"checked_in": "roomed"},
    "check_out": {"checked_in": "checked_out", "roomed": "checked_out"},
    "cancel": {"booked": "cancelled", "confirmed": "cancelled"},
    "no_show": {"booked": "no_show", "confirmed": "no_show"},
    "reschedule": {"booked": "booked", "confirmed": "booked"},
    # Once checked in the visit is under way (its start has passed, a room is held): what it turns
    # out to be is the encounter's business, not the booking's.
    "change_visit_type": {"booked": "booked", "confirmed": "confirmed"},
    "undo_check_in": {"checked_in": "confirmed"},
    "undo_room": {"roomed": "checked_in"},
}

_LABEL = {
    "booked": "booked", "confirmed": "confirmed", "checked_in": "checked in", "roomed": "roomed",
    "checked_out": "checked out", "cancelled": "cancelled", "no_show": "marked as a no-show",
}
_VERB = {
    "confirm": "confirm", "check_in": "check in", "room": "room", "check_out": "check out",
    "cancel": "cancel", "no_show": "mark as a no-show", "reschedule": "reschedule",
    "change_visit_type": "change the visit type of",
    "undo_check_in": "undo the check-in of", "undo_room": "undo rooming",
}


class TransitionRefused(Conflict):
    type = "appointment-transition"
    title = "Not possible in the appointment's current status"


@dataclass(frozen=True)
class Transition:
    action: str
    before: str
    after: str


def allowed_actions(status: str) -> list[str]:
    return [a for a, table in TRANSITIONS.items()
            if status in table and (table[status] != status or a in ("reschedule", "change_visit_type"))]


def transition(status: str, action: str, *, start_at: datetime | None = None,
               now: datetime | None = None) -> Transition:
    """The next status, or TransitionRefused (409) explaining why not."""
    table = TRANSITIONS.get(action)
    if table is None:
        raise TransitionRefused(f"Unknown action {action!r}", field="action")
    if status not in table:
        possible = ", ".join(_VERB[a] for a in allowed_actions(status)) or "nothing"
        raise TransitionRefused(
            f"Cannot {_VERB[action]} an appointment that is {_LABEL.get(status, status)}; "
            f"possible now: {possible}.", field="status")
    if action == "no_show" and start_at is not None and now is not None and now < start_at:
        raise TransitionRefused("Cannot mark a no-show before the appointment's start time.",
                                field="status")
    return Transition(action, status, table[status])
