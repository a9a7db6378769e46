"""Webhook test helpers: a receiver on 127.0.0.1, draining one organisation's outbox, and the
setting that lets deliveries reach a private address (127.0.0.1) at all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from praxis.platform import clock, outbox
from praxis.platform.db import session_scope
from praxis.platform.outbox import OutboxMessage
from praxis.platform.settings import get_settings


class Receiver:
    """An HTTP receiver that answers `fail_first` requests with 500, then 204."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(receiver.received) <= receiver.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """PRAXIS_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true for one test: the receivers listen on 127.0.0.1."""
    monkeypatch.setattr(get_settings(), "webhook_allow_private_networks", True)


@pytest.fixture
def receiver(allow_private: None) -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def drain(org: Any, rounds: int = 12) -> None:
    """Run the org's due outbox messages, moving the clock past each backoff, until none is pending.
    Other organisations' messages are parked first so only this test's events run."""
    with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.org_id != org.id, OutboxMessage.status == "pending")
                  .values(status="done"))
    for _ in range(rounds):
        outbox.run_once()
        with session_scope(None, system=True, reason="test: reads what the code under test wrote") as s:
            pending = s.scalars(select(OutboxMessage).where(OutboxMessage.org_id == org.id,
                                                            OutboxMessage.status == "pending")).all()
        if not pending:
            return
        clock.advance(timedelta(hours=1, seconds=1))
