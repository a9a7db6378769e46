"""`praxis worker`: outbox handlers and audit sealing, in a loop."""

from __future__ import annotations

import logging
import signal
import threading

from praxis.interop import export as fhir_export
from praxis.platform import audit, idempotency, outbox

log = logging.getLogger("praxis.worker")


def run(*, once: bool = False, interval: float = 1.0) -> None:
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    ticks = 0
    while not stop.is_set():
        handled = outbox.run_once()
        audit.seal_pending()
        ticks += 1
        if ticks % 3600 == 0:
            idempotency.purge()
            outbox.purge_done()
            fhir_export.purge_expired()
        if once:
            break
        if handled == 0:
            stop.wait(interval)
