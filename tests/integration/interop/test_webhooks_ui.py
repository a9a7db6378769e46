"""The webhooks screen, through the HTML routes: the integration admin creates a subscription
(the secret shown once), sees the delivery log fill (attempts, last answer, next attempt, dead),
replays a dead delivery, pauses, resumes and rotates the secret. Others see neither the menu entry
nor the pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from praxis.interop import webhooks
from praxis.platform.settings import get_settings
from tests.integration.interop.hooks import Receiver, drain
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world, signed_in


def _book(org: Any) -> Any:
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    return scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id,
                           provider_id=w.provider_id, location_id=org.loc_a.id,
                           start_at=w.local(future_weekday(), 10))


def _row(html: str, marker: str) -> str:
    m = re.search(rf'<tr data-{marker}.*?</tr>', html, re.S)
    assert m, html
    return m.group(0)


def test_create_log_replay_pause_rotate(org: Any, make_user: Any, login: Any, receiver: Receiver) -> None:
    admin = make_user(org, "org_admin")
    c = signed_in(login, admin)
    home = c.get("/admin/webhooks")
    assert home.status_code == 200 and 'href="/admin/webhooks"' in home.text and "No subscriptions yet." in home.text
    made = c.post("/admin/webhooks", data={"url": receiver.url, "event_types": ["appointment.booked"],
                                           "description": "EHR bridge"})
    assert made.status_code == 200, made.text
    secret = re.search(r'id="new-secret" class="secret">(whsec_[^<]+)<', made.text)
    assert secret and "shown only once" in made.text
    listing = c.get("/admin/webhooks").text
    assert secret.group(1) not in listing  # shown once
    row = _row(listing, "subscription")
    assert receiver.url in row and "appointment.booked" in row and "active" in row and "never" in row
    sub_id = re.search(r'data-subscription="([0-9a-f-]+)"', row).group(1)

    receiver.fail_first = 10_000
    _book(org)
    drain(org, rounds=2)  # the fan-out, then one failed attempt: pending, the next attempt shown
    c = signed_in(login, admin)  # draining moved the clock past the session's idle limit
    page = c.get(f"/admin/webhooks/{sub_id}").text
    delivery = _row(page, "delivery")
    assert 'data-status="pending"' in delivery and "HTTP 500" in delivery and "<time" in delivery
    assert ">1</td>" in delivery and "Replay" not in delivery  # retried by itself
    drain(org, rounds=webhooks.MAX_ATTEMPTS + 2)
    c = signed_in(login, admin)
    page = c.get(f"/admin/webhooks/{sub_id}?status=dead").text
    delivery = _row(page, "delivery")
    assert 'data-status="dead"' in delivery and f">{webhooks.MAX_ATTEMPTS}</td>" in delivery
    did = re.search(r'data-delivery="([0-9a-f-]+)"', delivery).group(1)
    assert "1 dead" in _row(c.get("/admin/webhooks").text, "subscription")  # seen from the list
    assert f"msg_{did.replace('-', '')}" in delivery and "appointment.booked" in delivery

    receiver.fail_first = 0
    replayed = c.post(f"/admin/webhooks/deliveries/{did}/replay", follow_redirects=False)
    assert replayed.status_code == 303
    assert "queued again" in c.get(replayed.headers["location"]).text
    drain(org)
    c = signed_in(login, admin)
    delivered = _row(c.get(f"/admin/webhooks/{sub_id}").text, "delivery")
    assert 'data-status="delivered"' in delivered and "HTTP 204" in delivered and "Replay" not in delivered
    assert c.get(f"/admin/webhooks/{sub_id}?status=dead").text.count("data-delivery=") == 0
    assert "dead" not in _row(c.get("/admin/webhooks").text, "subscription")

    paused = c.post(f"/admin/webhooks/{sub_id}/pause", follow_redirects=False)
    assert paused.status_code == 303 and paused.headers["location"] == f"/admin/webhooks/{sub_id}"
    assert "paused: nothing is sent" in c.get(f"/admin/webhooks/{sub_id}").text
    assert "Resume" in c.get(f"/admin/webhooks/{sub_id}").text
    c.post(f"/admin/webhooks/{sub_id}/resume")
    assert 'id="sub-status">active<' in c.get(f"/admin/webhooks/{sub_id}").text

    rotated = c.post(f"/admin/webhooks/{sub_id}/rotate-secret")
    new = re.search(r'id="new-secret" class="secret">(whsec_[^<]+)<', rotated.text)
    assert new and new.group(1) != secret.group(1) and "for 24 hours" in rotated.text
    assert "never" not in _row(c.get("/admin/webhooks").text, "subscription")  # rotated at …


def test_bad_input_names_the_field_and_changes_nothing(org: Any, make_user: Any, login: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", False)
    c = signed_in(login, make_user(org, "org_admin"))
    bad = c.post("/admin/webhooks", data={"url": "https://169.254.169.254/latest", "event_types": ["patient.merged"]})
    assert bad.status_code == 422 and "not public" in bad.text
    assert re.search(r'id="hook-url"[^>]*aria-invalid="true"', bad.text)
    assert 'value="https://169.254.169.254/latest"' in bad.text  # the form keeps what was typed
    none = c.post("/admin/webhooks", data={"url": "https://hooks.example.org/x"})
    assert none.status_code == 422 and "Event types must be some of" in none.text
    assert "No subscriptions yet." in c.get("/admin/webhooks").text


def test_only_the_integration_admin_sees_it(org: Any, other_org: Any, make_user: Any, login: Any,
                                            receiver: Receiver) -> None:
    admin = signed_in(login, make_user(org, "org_admin"))
    admin.post("/admin/webhooks", data={"url": receiver.url, "event_types": ["patient.registered"]})
    sub_id = re.search(r'data-subscription="([0-9a-f-]+)"', admin.get("/admin/webhooks").text).group(1)
    desk = signed_in(login, make_user(org, "front_desk", org.loc_a))
    assert 'href="/admin/webhooks"' not in desk.get("/desk").text
    assert desk.get("/admin/webhooks").status_code == 403
    assert desk.post(f"/admin/webhooks/{sub_id}/pause").status_code == 403
    stranger = signed_in(login, make_user(other_org, "org_admin"))
    assert stranger.get(f"/admin/webhooks/{sub_id}").status_code == 404
    assert stranger.post(f"/admin/webhooks/{sub_id}/rotate-secret").status_code == 404
    assert sub_id not in stranger.get("/admin/webhooks").text
