from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from praxis.scheduling.status import STATUSES, TRANSITIONS, TransitionRefused, allowed_actions, transition


def test_happy_path():
    s = "booked"
    for action, expected in [("confirm", "confirmed"), ("check_in", "checked_in"), ("room", "roomed"),
                             ("check_out", "checked_out")]:
        s = transition(s, action).after
        assert s == expected


@pytest.mark.parametrize("status,action", [
    ("cancelled", "check_in"), ("cancelled", "cancel"), ("no_show", "check_in"), ("checked_out", "cancel"),
    ("booked", "room"), ("booked", "check_out"), ("roomed", "check_in"), ("checked_in", "no_show"),
    ("checked_out", "reschedule"), ("checked_in", "change_visit_type"), ("cancelled", "change_visit_type"),
    ("no_show", "change_visit_type"),
])
def test_impossible_transitions_refused_with_clear_message(status, action):
    with pytest.raises(TransitionRefused) as exc:
        transition(status, action)
    assert exc.value.status == 409
    assert "Cannot" in exc.value.detail
    assert exc.value.field == "status"


def test_check_in_cancelled_message_names_status():
    with pytest.raises(TransitionRefused) as exc:
        transition("cancelled", "check_in")
    assert "cancelled" in exc.value.detail and "possible now: nothing" in exc.value.detail


def test_no_show_only_after_start():
    start = datetime(2026, 3, 10, 14, tzinfo=UTC)
    with pytest.raises(TransitionRefused):
        transition("booked", "no_show", start_at=start, now=start - timedelta(minutes=1))
    assert transition("booked", "no_show", start_at=start, now=start + timedelta(minutes=20)).after == "no_show"


def test_every_transition_targets_a_known_status():
    for table in TRANSITIONS.values():
        for before, after in table.items():
            assert before in STATUSES and after in STATUSES


def test_allowed_actions():
    assert "check_in" in allowed_actions("booked")
    assert allowed_actions("cancelled") == []
    assert allowed_actions("roomed") == ["check_out", "undo_room"]
    assert "change_visit_type" in allowed_actions("booked") and "change_visit_type" in allowed_actions("confirmed")


def test_change_visit_type_keeps_the_status():
    assert transition("confirmed", "change_visit_type").after == "confirmed"
    assert transition("booked", "change_visit_type").after == "booked"


def test_unknown_action():
    with pytest.raises(TransitionRefused):
        transition("booked", "teleport")
