"""Regressions for scope/tenant checks found by the tenancy sweep (tests/tenancy/test_sweep.py)."""

from __future__ import annotations

import pytest

from praxis.platform.errors import NotFound
from praxis.scheduling import ics, waitlist

from .helpers import make_patient, make_world


def test_feed_token_naming_another_orgs_provider_is_no_calendar(org, other_org):
    """A signed feed token pairing one organisation with another's provider answers 404, not an
    empty calendar (the signature alone does not prove the provider belongs to that org)."""
    theirs = make_world(other_org)
    with pytest.raises(NotFound):
        ics.provider_feed(ics.feed_token(org.id, theirs.provider_id))
    assert ics.provider_feed(ics.feed_token(other_org.id, theirs.provider_id)).startswith("BEGIN:VCALENDAR")


def test_any_location_waitlist_entry_refuses_a_provider_outside_the_callers_locations(org, make_user, ctx_for):
    """Front desk at loc_a cannot put a patient on the waitlist of a provider who works only at
    loc_b by leaving location_id out (an any-location entry); a provider of loc_a is fine."""
    w = make_world(org)  # provider2 works at loc_b only; provider works at both
    ctx = ctx_for(make_user(org, "front_desk", org.loc_a))
    patient = make_patient(org)
    with pytest.raises(NotFound):
        waitlist.add_entry(ctx, patient_id=patient, visit_type_id=w.visit_id, provider_id=w.provider2_id)
    entry = waitlist.add_entry(ctx, patient_id=patient, visit_type_id=w.visit_id, provider_id=w.provider_id)
    assert entry.location_id is None and entry.provider_id == w.provider_id
