"""docs/integration.md tells the truth: its webhook receiver, run as written, accepts a real signed
delivery from our worker (and refuses a tampered one); its HL7 A04 gets from our MLLP listener the
ACK the page shows (timestamps and the ACK's own control id aside)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from praxis.formats.hl7v2 import mllp_frame, parse_message
from praxis.interop import webhooks
from praxis.interop.hl7.inbound import Route
from praxis.interop.hl7.listener import start_server
from praxis.platform import outbox
from praxis.platform.context import system_context
from praxis.platform.settings import get_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"


def block(lang: str, after: str = "") -> str:
    """The first ```lang code block of the page (after the heading `after`)."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    m = re.compile(rf"^```{re.escape(lang)}\n(.*?)^```$", re.S | re.M).search(text, start)
    assert m, f"no ```{lang} block in {DOC}"
    return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "receiver exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the receiver from docs/integration.md did not start")


def test_the_documented_receiver_verifies_a_real_delivery(org: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from praxis.scheduling import service as scheduling
    from tests.integration.scheduling.helpers import future_weekday, make_patient, make_world

    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)  # the receiver is on 127.0.0.1
    script = tmp_path / "receiver.py"
    script.write_text(block("python", "## 4. Webhooks"), encoding="utf-8")
    port = _free_port()
    sub, secret = webhooks.create_subscription(system_context(org.id, "test"), f"http://127.0.0.1:{port}/",
                                               ["appointment.booked"])
    env = {**os.environ, "PRAXIS_WEBHOOK_SECRET": secret, "HOST": "127.0.0.1", "PORT": str(port)}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
        w = make_world(org)
        appt = scheduling.book(w.ctx, patient_id=make_patient(org), visit_type_id=w.visit_id,
                               provider_id=w.provider_id, location_id=org.loc_a.id,
                               start_at=w.local(future_weekday(), 10))
        # The worker's passes, without moving the clock (the receiver checks the timestamp against
        # its own): the fan-out, then the signed POST. As many passes as it takes: events other
        # tests left pending in the shared database come first (oldest first).
        for _ in range(200):
            outbox.run_once()
            found = webhooks.list_deliveries(system_context(org.id, "test"), sub.id)
            if found and found[0].status != "pending":
                break
        [delivery] = webhooks.list_deliveries(system_context(org.id, "test"), sub.id)
        assert (delivery.status, delivery.last_status_code) == ("delivered", 204), delivery.last_error
        # A tampered body (same headers) is refused by the documented verify().
        body = json.dumps(delivery.payload).encode()
        tampered = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST", headers={
            "webhook-id": f"msg_{delivery.id.hex}", "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA", "content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(tampered, timeout=5)  # noqa: S310 (our own test receiver)
        assert refused.value.code == 400
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    lines = out.strip().splitlines()
    assert len(lines) == 1, (out, err)
    kind, data = lines[0].split(" ", 1)
    assert kind == "appointment.booked" and json.loads(data)["appointment_id"] == str(appt.id)


def _normalise(message: str) -> list[list[str]]:
    """Segments and fields, with what differs from run to run blanked: MSH-7 (time), MSH-10 (the
    ACK's own control id)."""
    segments = [seg.split("|") for seg in message.strip().replace("\r", "\n").split("\n") if seg]
    for seg in segments:
        if seg[0] == "MSH":
            seg[6] = seg[9] = "…"  # fields are 0-based here, MSH-1 being the separator itself
    return segments


def test_the_documented_hl7_exchange_is_what_the_listener_answers(org: Any) -> None:
    a04 = block("hl7", "## 3. HL7 v2").strip().replace("\n", "\r")
    documented_ack = block("hl7-ack", "## 3. HL7 v2")
    facility = parse_message(a04).get("MSH-4.1")

    async def exchange() -> bytes:
        server = await start_server("127.0.0.1", 0, {facility: Route(org.id, org.loc_a.id)})
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
            writer.write(mllp_frame(a04))
            await writer.drain()
            data = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 30)
            writer.close()
            await writer.wait_closed()
            return data[1:-2]
        finally:
            server.close()
            await server.wait_closed()

    ack = asyncio.run(exchange()).decode()
    assert _normalise(ack) == _normalise(documented_ack)
    assert parse_message(ack).get("MSA-1") == "AA"
