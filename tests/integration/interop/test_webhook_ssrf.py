"""SSRF guard: webhook URLs reaching private, loopback, link-local, multicast, reserved or
unspecified addresses are refused when saved (422 naming `url`) and again when the worker connects
(the address the name resolves to then: DNS rebinding), unless a setting allows them."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from praxis.interop import egress, webhooks
from praxis.platform.settings import get_settings
from tests.integration.interop.hooks import Receiver, drain
from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

PRIVATE_URLS = [
    "https://127.0.0.1/hooks", "https://127.8.9.10:8443/hooks", "https://localhost/hooks", "https://app.localhost/h",
    "https://10.1.2.3/hooks", "https://172.16.0.1/hooks", "https://192.168.1.10/hooks", "https://100.64.0.1/hooks",
    "https://169.254.169.254/latest/meta-data", "https://0.0.0.0/hooks", "https://224.0.0.1/hooks",
    "https://240.0.0.1/hooks", "https://[::1]/hooks", "https://[fe80::1]/hooks", "https://[fd00::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks", "https://[::]/hooks", "https://[ff02::1]/hooks",
    # Other spellings of loopback, and a zone that must not hide the address.
    "https://2130706433/hooks", "https://0x7f.1/hooks", "https://017700000001/hooks", "https://localhost./hooks",
    "https://[::1%25eth0]/hooks", "https://[fe80::1%25lo]/hooks",
]


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production defaults, whatever the environment says."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", False)
    monkeypatch.setattr(get_settings(), "webhook_allowed_networks", "")


def _book(org: Any) -> None:
    from praxis.scheduling import service as scheduling

    w = make_world(org)
    scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id, provider_id=w.provider_id,
                    location_id=org.loc_a.id, start_at=w.local(future_weekday(), 10))


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_when_saved(url: str, org: Any, bearer: Any, strict: None) -> None:
    c = bearer(org, ["webhooks:manage"])
    r = c.post("/api/v1/webhooks", json={"url": url, "event_types": ["appointment.booked"]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "url" and "not public" in r.json()["detail"]
    assert c.get("/api/v1/webhooks").json() == []


@pytest.mark.parametrize(("url", "says"), [
    ("https://[abc/hooks", "brackets"), ("https://exa mple.org/hooks", "spaces"),
    ("https://hooks.example.org:99999/", "port"), ("https:///hooks", "needs a host"),
])
def test_malformed_urls_are_a_422_naming_url(url: str, says: str, org: Any, bearer: Any, strict: None) -> None:
    r = bearer(org, ["webhooks:manage"]).post("/api/v1/webhooks", json={"url": url, "event_types": ["patient.merged"]})
    assert r.status_code == 422 and r.json()["field"] == "url" and says in r.json()["detail"], r.text


def test_http_is_refused_and_update_is_checked_too(org: Any, bearer: Any, strict: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    c = bearer(org, ["webhooks:manage"])
    r = c.post("/api/v1/webhooks", json={"url": "http://hooks.example.org/x", "event_types": ["patient.merged"]})
    assert r.status_code == 422 and r.json()["field"] == "url" and "https" in r.json()["detail"]
    # A name that resolves to a public address is accepted; moving it to a private one is not.
    monkeypatch.setattr(egress, "resolve", lambda host, port: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14" if host == "hooks.example.org"
                                                      else "10.0.0.7", port))])
    sub = c.post("/api/v1/webhooks", json={"url": "https://hooks.example.org/x", "event_types": ["patient.merged"]})
    assert sub.status_code == 201, sub.text
    moved = c.patch(f"/api/v1/webhooks/{sub.json()['id']}", json={"url": "https://intranet.example.org/x"})
    assert moved.status_code == 422 and moved.json()["field"] == "url" and "10.0.0.7" in moved.json()["detail"]
    assert c.get("/api/v1/webhooks").json()[0]["url"] == "https://hooks.example.org/x"  # unchanged
    ok = c.patch(f"/api/v1/webhooks/{sub.json()['id']}", json={"event_types": ["patient.registered"]})
    assert ok.status_code == 200 and ok.json()["event_types"] == ["patient.registered"]


def test_allowed_networks_open_named_cidrs_to_https_only(org: Any, bearer: Any, strict: None,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allowed_networks", "10.20.0.0/16, fd00:1::/32")
    c = bearer(org, ["webhooks:manage"])
    assert c.post("/api/v1/webhooks", json={"url": "https://10.20.3.4/hooks",
                                            "event_types": ["patient.merged"]}).status_code == 201
    assert c.post("/api/v1/webhooks", json={"url": "https://10.21.3.4/hooks",
                                            "event_types": ["patient.merged"]}).status_code == 422
    assert c.post("/api/v1/webhooks", json={"url": "http://10.20.3.4/hooks",
                                            "event_types": ["patient.merged"]}).status_code == 422


def test_delivery_checks_the_address_again(org: Any, bearer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved while private networks were allowed, delivered after they no longer are: the worker
    refuses to connect, the log says why, and the receiver gets nothing."""
    receiver = Receiver()
    try:
        monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)
        c = bearer(org, ["webhooks:manage"])
        sub = c.post("/api/v1/webhooks", json={"url": receiver.url, "event_types": ["appointment.booked"]}).json()
        monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", False)
        _book(org)
        drain(org, rounds=webhooks.MAX_ATTEMPTS + 3)
        log = c.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()
        assert [(d["status"], d["last_status_code"]) for d in log] == [("dead", None)]
        assert log[0]["last_error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1")
        assert receiver.received == []
    finally:
        receiver.server.shutdown()


def test_dns_rebinding_to_loopback_is_refused_at_delivery(org: Any, bearer: Any, strict: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The name resolved to a public address when saved and to 127.0.0.1 when the worker connects."""
    answers = {"now": "93.184.215.14"}
    monkeypatch.setattr(egress, "resolve", lambda host, port: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers["now"], port))])
    receiver = Receiver()
    try:
        c = bearer(org, ["webhooks:manage"])
        url = f"https://rebind.example.org:{receiver.server.server_port}/hooks"
        sub = c.post("/api/v1/webhooks", json={"url": url, "event_types": ["appointment.booked"]})
        assert sub.status_code == 201, sub.text
        answers["now"] = "127.0.0.1"
        _book(org)
        drain(org, rounds=2)
        log = c.get(f"/api/v1/webhooks/{sub.json()['id']}/deliveries").json()
        assert log[0]["last_error"] == "refused: rebind.example.org resolves to 127.0.0.1, not a public address"
        assert receiver.received == []
    finally:
        receiver.server.shutdown()


@pytest.mark.parametrize(("address", "is_public"), [
    ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True), ("8.8.8.8", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.31.255.255", False), ("192.168.0.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.251", False),  # noqa: S104 (a value under test)
    ("255.255.255.255", False), ("192.0.2.1", False), ("::1", False), ("::", False), ("fe80::1", False),
    ("fc00::1", False), ("ff02::1", False), ("::ffff:10.0.0.1", False), ("2001:db8::1", False),
])
def test_public_addresses(address: str, is_public: bool) -> None:
    assert egress.public(ipaddress.ip_address(address)) is is_public
