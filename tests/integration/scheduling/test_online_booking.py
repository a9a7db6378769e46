"""Online booking's own checks: the chosen time is checked against that provider's day, and the
rate limits count requests per organisation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from praxis.platform.errors import TooManyRequests
from praxis.scheduling import online, reminders, setup
from praxis.scheduling.reminders import FileSender
from praxis.scheduling.schemas import OnlineBookingIn

from .helpers import ALL_WEEK_9_TO_5, future_weekday, make_world


@pytest.fixture
def sender(tmp_path):
    s = FileSender(tmp_path / "messages.log")
    reminders.set_sender(s)
    yield s
    reminders.set_sender(None)


def _request(world, provider_id, start_at, phone="(212) 555-0123") -> OnlineBookingIn:
    return OnlineBookingIn(visit_type_id=world.new_visit_id, provider_id=provider_id, start_at=start_at,
                           first_name="Ona", last_name="Line", dob=date(1990, 1, 2), channel="sms", phone=phone)


def test_a_late_time_at_a_busy_location_is_still_offered(org, sender):
    """Five providers with full days give more than 100 open times; the last one of the day for
    the chosen provider must still be accepted."""
    from praxis.intake import ratelimit

    ratelimit.reset()
    world = make_world(org)
    for i in range(4):
        p = setup.create_provider(world.ctx, first_name="Extra", last_name=f"Doc{i}", credentials="MD",
                                  location_ids=[org.loc_a.id])
        setup.create_template(world.ctx, provider_id=p.id, location_id=org.loc_a.id,
                              effective_from=future_weekday(0) - timedelta(days=1), effective_to=None,
                              blocks=ALL_WEEK_9_TO_5)
    loc = online.find_location(org.slug, "NYC")
    day = future_weekday(20)
    ours = online.slots(loc, world.new_visit_id, day, days=1, limit=200, provider_id=world.provider_id)
    everyone = online.slots(loc, world.new_visit_id, day, days=1, limit=200)
    assert len(everyone) > 100 and ours
    vid, _expires, _masked = online.start(loc, _request(world, world.provider_id, ours[-1].start_at),
                                          client_ip="203.0.113.7")
    assert vid


def test_rate_limits_count_one_organisations_requests(org, other_org, sender):
    world, theirs = make_world(org), make_world(other_org)
    loc, their_loc = online.find_location(org.slug, "NYC"), online.find_location(other_org.slug, "NYC")
    day = future_weekday(21)
    their_slots = online.slots(their_loc, theirs.new_visit_id, day, days=1, limit=20)
    for i in range(online.PER_IP_PER_HOUR):
        online.start(their_loc, _request(theirs, their_slots[i].provider_id, their_slots[i].start_at,
                                         phone=f"(212) 555-01{i:02d}"), client_ip="198.51.100.4")
    with pytest.raises(TooManyRequests):
        online.start(their_loc, _request(theirs, their_slots[-1].provider_id, their_slots[-1].start_at,
                                         phone="(212) 555-0199"), client_ip="198.51.100.4")
    ours = online.slots(loc, world.new_visit_id, day, days=1, limit=1)
    assert online.start(loc, _request(world, ours[0].provider_id, ours[0].start_at, phone="(212) 555-0177"),
                        client_ip="198.51.100.4")
