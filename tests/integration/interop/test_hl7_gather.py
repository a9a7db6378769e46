"""The listener's writer gathers a batch: it waits briefly for the other busy connections' next
messages (decision 50), and not at all when nobody else is sending."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from praxis.interop.hl7 import listener
from praxis.interop.hl7.inbound import Route
from tests.integration.interop.test_hl7_mllp import a04

FACILITY = "Ntierprise Clinic"


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> Any:
    batches: list[list[str]] = []

    def receive_many(items: list[Any]) -> None:  # what the database would do, minus the database
        batches.append([i.control_id for i in items])
        for item in items:
            item.ack = f"ACK {item.control_id}"

    monkeypatch.setattr(listener, "receive_many", receive_many)
    w = listener.Writer({FACILITY: Route(uuid.uuid4())})
    w.batches = batches
    yield w
    w.close()


def test_a_batch_waits_for_the_next_busy_connection(writer: Any) -> None:
    async def scenario() -> list[str | None]:
        writer._seen.update({1: time.monotonic(), 2: time.monotonic()})  # both sent a moment ago
        first = asyncio.ensure_future(writer.submit(a04("1", "One", "Ann", "G-1"), 1))
        await asyncio.sleep(0.004)  # the other connection's message comes 4 ms later
        second = asyncio.ensure_future(writer.submit(a04("2", "Two", "Bo", "G-2"), 2))
        return list(await asyncio.gather(first, second))

    assert asyncio.run(scenario()) == ["ACK G-1", "ACK G-2"]
    assert writer.batches == [["G-1", "G-2"]]


def test_one_connection_does_not_wait_and_a_pause_ends_the_gathering(writer: Any) -> None:
    async def alone() -> float:
        writer._seen.clear()
        started = time.monotonic()
        assert await writer.submit(a04("3", "Solo", "Sue", "G-3"), 3) == "ACK G-3"
        return time.monotonic() - started

    assert asyncio.run(alone()) < listener.GATHER_SECONDS
    assert writer.batches == [["G-3"]]

    async def three_busy_two_send() -> None:
        writer._seen.update({4: time.monotonic(), 5: time.monotonic(), 6: time.monotonic()})
        first = asyncio.ensure_future(writer.submit(a04("4", "Four", "Flo", "G-4"), 4))
        await asyncio.sleep(0.002)
        second = asyncio.ensure_future(writer.submit(a04("5", "Five", "Fay", "G-5"), 5))
        await asyncio.gather(first, second)
        # The third busy connection sends nothing: the batch went after a pause, not 10 ms later.
        late = asyncio.ensure_future(writer.submit(a04("6", "Six", "Sam", "G-6"), 6))
        await late

    asyncio.run(three_busy_two_send())
    assert writer.batches[1:] == [["G-4", "G-5"], ["G-6"]]


def test_a_closed_connection_is_not_waited_for(writer: Any) -> None:
    writer._seen.update({7: time.monotonic(), 8: time.monotonic()})
    writer.forget(8)
    assert writer._busy() == 1
