"""Pure rules behind the front-desk screens (issue 13): which actions a block offers now, the
location's slot size, and the reminder sentence read back at confirmation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from praxis.scheduling.confirm import reminder_sentence
from praxis.scheduling.grid import block_actions, slot_minutes

START = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def test_no_show_only_after_the_start_and_check_in_only_on_the_day():
    before = block_actions("booked", START, START - timedelta(minutes=1), on_the_day=True)
    assert before == ("check_in", "reschedule", "change_visit_type", "cancel")
    after = block_actions("confirmed", START, START + timedelta(minutes=1), on_the_day=True)
    # Once the start has passed the visit type is not changed (booking's rules refuse a past start).
    assert after == ("check_in", "reschedule", "no_show", "cancel")
    assert "check_in" not in block_actions("booked", START, START - timedelta(days=1), on_the_day=False)


def test_later_statuses_offer_their_next_steps_only():
    assert block_actions("checked_in", START, START, on_the_day=True) == ("room", "check_out", "undo_check_in")
    assert block_actions("roomed", START, START, on_the_day=True) == ("check_out",)
    assert block_actions("checked_out", START, START, on_the_day=True) == ()
    assert block_actions("cancelled", START, START, on_the_day=True) == ()


def test_slot_size_is_the_location_setting_or_fifteen_minutes():
    assert slot_minutes({"slot_minutes": 30}) == 30
    assert slot_minutes({}) == slot_minutes(None) == 15
    assert slot_minutes({"slot_minutes": 7}) == 15 and slot_minutes({"slot_minutes": "30"}) == 15


def test_reminder_sentence_says_how_to_whom_and_when():
    assert reminder_sentence(("sms", "+12125550123"), [24, 72]) == (
        "A reminder by text message to +12125550123, 3 days and 1 day before the visit.")
    assert reminder_sentence(("email", "a@example.org"), [2]) == (
        "A reminder by e-mail to a@example.org, 2 h before the visit.")
    assert reminder_sentence(None, [24]).startswith("No reminder will go out: the patient has not agreed")
    assert reminder_sentence(("sms", "+1"), []).endswith("has no reminder rules.")
