"""The HL7 screen, through the HTML routes: the inbound log filtered by status, a failed message
with its error and Replay (CSRF-checked POST, then AA once the patient exists), the raw message
shown as text (never as markup), the outbound log with Resend, an outbound message's page (the
message as sent and the ACK as text, audited, Resend); others see neither menu nor pages."""

from __future__ import annotations

import html
import re
from typing import Any

from praxis.formats.hl7v2 import build_message
from tests.integration.interop.test_hl7_log import FACILITY, _audits, _outbound, _row, adt, deliver
from tests.integration.scheduling.helpers import signed_in


def _tr(html: str, marker: str, value: str) -> str:
    m = re.search(rf'<tr data-{marker}="{value}".*?</tr>', html, re.S)
    assert m, html
    return m.group(0)


def test_failed_message_is_listed_and_replayed(org: Any, make_user: Any, login: Any) -> None:
    deliver(org, adt("A08", "U-1", "Later", "UI-1"))
    failed = _row(org, "UI-1")
    c = signed_in(login, make_user(org, "org_admin"))
    page = c.get("/admin/hl7?status=failed")
    assert page.status_code == 200 and 'href="/admin/hl7"' in page.text  # in the menu
    row = _tr(page.text, "message", str(failed.id))
    assert 'data-status="failed"' in row and "ADT^A08" in row and f"EHR|{FACILITY}" in row and "UI-1" in row
    assert failed.error and html.escape(failed.error).replace("&#x27;", "&#39;") in row
    assert ">1</td>" in row and "<time" in row
    assert "Replay" in row and 'name="csrf_token"' in row

    # Without the CSRF token (the test client sends it as a header by default) the POST is refused
    # and nothing is processed.
    assert c.post(f"/admin/hl7/messages/{failed.id}/replay", headers={"X-CSRF-Token": ""}).status_code == 403
    assert _row(org, "UI-1").attempts == 1

    deliver(org, adt("A04", "U-1", "Later", "UI-REG"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = c.post(f"/admin/hl7/messages/{failed.id}/replay", data={"csrf_token": token},
                  headers={"X-CSRF-Token": ""}, follow_redirects=False)  # the form's own token
    assert done.status_code == 303
    after = c.get(done.headers["location"])
    assert "Message replayed: ACK AA, processed." in after.text
    row = _tr(after.text, "message", str(failed.id))
    assert 'data-status="processed"' in row and "Replay" not in row and ">2</td>" in row
    assert _row(org, "UI-1").status == "processed"
    assert "No messages failed." in c.get("/admin/hl7?status=failed").text

    again = c.post(f"/admin/hl7/messages/{failed.id}/replay", data={"csrf_token": token})
    assert again.status_code == 409 and "processed already" in again.text


def test_the_raw_message_is_shown_as_text(org: Any, make_user: Any, login: Any) -> None:
    hostile = build_message([
        ("MSH", ["EHR", FACILITY, "PRAXIS", "CLINIC", "20261207090000", None, ["ADT", "A04", "ADT_A01"],
                 "XSS-1", "P", "2.5"]),
        ("EVN", ["A04", "20261207090000"]),
        ("PID", ["1", None, ["Z-1", None, None, "NSH", "MR"], None, ["<script>alert(1)</script>", "Eve"], None,
                 "19800102", "F"]),
        ("PV1", ["1", "O"]),
    ]).encode()
    deliver(org, hostile)
    row = _row(org, "XSS-1")
    c = signed_in(login, make_user(org, "org_admin"))
    page = c.get(f"/admin/hl7/messages/{row.id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    raw = re.search(r'<pre id="raw-message"[^>]*>(.*?)</pre>', page.text, re.S).group(1)
    assert "PID|1||Z-1^^^NSH^MR||&lt;script&gt;alert(1)&lt;/script&gt;^Eve" in raw
    assert raw.splitlines()[0].startswith("MSH|") and len(raw.splitlines()) == 4  # a segment a line
    assert "MSA|" in re.search(r'<pre id="ack-message"[^>]*>(.*?)</pre>', page.text, re.S).group(1)


def test_outbound_dead_row_is_resent(org: Any, make_user: Any, login: Any) -> None:
    dead = _outbound(org)
    delivered = _outbound(org, status="delivered")
    c = signed_in(login, make_user(org, "org_admin"))
    page = c.get("/admin/hl7?view=outbound")
    row = _tr(page.text, "outbound", str(dead))
    assert 'data-status="dead"' in row and "Connection refused" in row and "Resend" in row
    assert "Resend" not in _tr(page.text, "outbound", str(delivered))
    assert "Resend" not in c.get("/admin/hl7?view=outbound&status=delivered").text.split("<tbody>")[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = c.post(f"/admin/hl7/outbound/{dead}/resend", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    after = c.get(done.headers["location"])
    assert "queued again" in after.text and 'data-status="pending"' in _tr(after.text, "outbound", str(dead))


def test_outbound_page_shows_the_message_as_sent_and_the_ack_as_text(org: Any, make_user: Any, login: Any
                                                                     ) -> None:
    sent = ("MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|20261207090000||ADT^A08^ADT_A01|PX9|P|2.5.1\r"
            "PID|1||M-9^^^PRAXIS^MR||<script>alert(1)</script>^Eve\rPV1|1|O")
    ack = "MSH|^~\\&|LAB|LAB|PRAXIS|PRAXIS|20261207090001||ACK^A08^ACK|A9|P|2.5.1\rMSA|AR|PX9|<b>no</b>"
    dead = _outbound(org, event="ADT^A08", sent=sent, last_ack=ack, last_ack_code="AR",
                     last_error="<b>no</b>")
    c = signed_in(login, make_user(org, "org_admin"))
    listed = c.get("/admin/hl7?view=outbound").text
    assert f'href="/admin/hl7/outbound/{dead}"' in _tr(listed, "outbound", str(dead))
    assert "&lt;script&gt;" not in listed and _audits(org, "hl7_outbound.read") == []  # the list shows no PHI

    page = c.get(f"/admin/hl7/outbound/{dead}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "<b>no</b>" not in page.text
    shown = re.search(r'<pre id="sent-message"[^>]*>(.*?)</pre>', page.text, re.S).group(1)
    assert shown.splitlines() == ["MSH|^~\\&amp;|PRAXIS|PRAXIS|LAB|LAB|20261207090000||ADT^A08^ADT_A01|PX9|P|2.5.1",
                                  "PID|1||M-9^^^PRAXIS^MR||&lt;script&gt;alert(1)&lt;/script&gt;^Eve", "PV1|1|O"]
    got = re.search(r'<pre id="ack-message"[^>]*>(.*?)</pre>', page.text, re.S).group(1)
    assert "MSA|AR|PX9|&lt;b&gt;no&lt;/b&gt;" in got
    assert "patient.updated" in page.text and 'id="out-status">dead' in page.text
    (read,) = _audits(org, "hl7_outbound.read")
    assert read.resource_id == str(dead) and read.detail["event"] == "ADT^A08"

    # Resend from the page: back to the page, queued, no second Resend.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert f'action="/admin/hl7/outbound/{dead}/resend?back=detail"' in page.text
    done = c.post(f"/admin/hl7/outbound/{dead}/resend?back=detail", data={"csrf_token": token},
                  follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/admin/hl7/outbound/{dead}?resent=1"
    after = c.get(done.headers["location"]).text
    assert "Queued again" in after and 'id="out-status">pending' in after and ">Resend</button>" not in after
    (resend,) = _audits(org, "hl7_outbound.resend")
    assert resend.resource_id == str(dead)
    again = c.post(f"/admin/hl7/outbound/{dead}/resend?back=detail", data={"csrf_token": token})
    assert again.status_code == 409 and "queued already" in again.text and 'id="sent-message"' in again.text

    never = _outbound(org, status="pending", attempts=0, last_error="")
    assert "None yet: not sent." in c.get(f"/admin/hl7/outbound/{never}").text


def test_others_see_neither_menu_nor_pages(org: Any, other_org: Any, make_user: Any, login: Any) -> None:
    deliver(org, adt("A08", "P-1", "Private", "PRIV-1"))
    msg = _row(org, "PRIV-1")
    out = _outbound(org, sent="MSH|^~\\&|PRAXIS|PRAXIS|LAB|LAB|x||ADT^A04|PX1|P|2.5.1\rPID|1||PRIV-MRN")
    desk = signed_in(login, make_user(org, "front_desk"))
    assert 'href="/admin/hl7"' not in desk.get("/").text
    assert desk.get("/admin/hl7").status_code == 403
    assert desk.get(f"/admin/hl7/messages/{msg.id}").status_code == 403
    assert desk.get(f"/admin/hl7/outbound/{out}").status_code == 403
    stranger = signed_in(login, make_user(other_org, "org_admin"))
    assert "PRIV-1" not in stranger.get("/admin/hl7").text
    assert stranger.get(f"/admin/hl7/messages/{msg.id}").status_code == 404
    theirs = stranger.get(f"/admin/hl7/outbound/{out}")
    assert theirs.status_code == 404 and "PRIV-MRN" not in theirs.text
    assert _audits(org, "hl7_outbound.read") == [] == _audits(other_org, "hl7_outbound.read")


def test_older_link_pages_the_log(org: Any, make_user: Any, login: Any, monkeypatch: Any) -> None:
    from praxis.interop.ui import hl7 as hl7_ui

    monkeypatch.setattr(hl7_ui, "PAGE", 2)
    deliver(org, *(adt("A08", f"O-{i}", "Old", f"OLD-{i}") for i in range(3)))
    c = signed_in(login, make_user(org, "org_admin"))
    first = c.get("/admin/hl7").text
    assert re.findall(r"<code>(OLD-\d)</code></a>", first) == ["OLD-2", "OLD-1"]
    older = html.unescape(re.search(r'<a href="([^"]+)">Older</a>', first).group(1))
    second = c.get(older).text
    assert re.findall(r"<code>(OLD-\d)</code></a>", second) == ["OLD-0"] and ">Older<" not in second
    assert ">Newest<" in second
