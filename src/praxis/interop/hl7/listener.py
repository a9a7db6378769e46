"""The MLLP listener: asyncio TCP, one ACK per message, in order per connection, group commit.

Each connection's messages are handled one after another (HL7's original-mode ordering: the
sender waits for the ACK before sending the next; a sender that does not wait still gets its
messages applied and answered in order). Connections run concurrently and meet in one writer
thread (the service layer is synchronous, decision 1): it takes every message waiting in its
queue (waiting a moment for each busy connection's next one), stores and applies them as one
batch (`inbound.receive_many`: one transaction stores the raw messages, one applies them and
records each outcome), and only after that commit releases each connection's ACK. Under load a batch
holds one message per busy connection, so the commits per message fall as connections are added
(decisions 37 and 50).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from praxis.formats.hl7v2 import MllpDecoder, mllp_frame
from praxis.interop.hl7.inbound import Inbound, Routes, prepare, receive_many

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 300.0
MAX_BATCH = 200  # messages per transaction; one per waiting connection in original mode


# How long a batch may wait for the other busy connections' next messages (decision 50): without
# it, the first message after a commit starts a batch alone while the others are still on their
# way, and the batches stay small. The wait ends when every busy connection (one that sent within
# BUSY_SECONDS) has a message in, when none has come for GATHER_GAP_SECONDS since the last (the
# senders have paused), or after GATHER_SECONDS at most.
GATHER_SECONDS = 0.010
GATHER_GAP_SECONDS = 0.001
BUSY_SECONDS = 1.0


@dataclass(eq=False)
class _Job:
    block: bytes
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[str | None]
    connection: int = 0


class Writer:
    """The writer threads: each drains the shared queue, processes a batch, answers each job."""

    def __init__(self, routes: Routes, threads: int = 1) -> None:
        self.routes = routes
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._seen: dict[int, float] = {}  # connection -> when it last sent (read by the writers)
        self._threads = [threading.Thread(target=self._run, name=f"hl7-writer-{n}", daemon=True)
                         for n in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    async def submit(self, block: bytes, connection: int = 0) -> str | None:
        """The ACK for one block, once its outcome is committed (raises if storing failed)."""
        loop = asyncio.get_running_loop()
        job = _Job(block, loop, loop.create_future(), connection)
        self._seen[connection] = time.monotonic()
        self._queue.put(job)
        return await job.future

    def forget(self, connection: int) -> None:
        """A connection closed: no batch waits for it any more."""
        self._seen.pop(connection, None)

    def _busy(self) -> int:
        since = time.monotonic() - BUSY_SECONDS
        return sum(1 for at in list(self._seen.values()) if at >= since)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(30)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            stop = False
            # Every busy connection holds at most one message here (each waits for its ACK), so a
            # batch is complete when each has one in; until then wait a moment for the rest.
            waiting = {job.connection}
            deadline = time.monotonic() + GATHER_SECONDS
            while len(jobs) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    left = deadline - time.monotonic()
                    if len(jobs) > 1:
                        # Messages are coming in: stop when they pause. (Before the second one
                        # arrives, the others are still getting their ACKs from the last batch.)
                        left = min(left, GATHER_GAP_SECONDS)
                    if len(waiting) >= self._busy() or left <= 0:
                        break
                    try:
                        more = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                waiting.add(more.connection)
            self._process(jobs)
            if stop:
                return

    def _process(self, jobs: list[_Job]) -> None:
        outcomes: list[tuple[_Job, str | None, BaseException | None]] = []
        items: dict[_Job, Inbound] = {}
        for job in jobs:
            try:
                prepared = prepare(job.block, self.routes)
            except Exception as exc:  # a codec bug must not stop the writer
                log.exception("hl7: preparing a message failed")
                outcomes.append((job, None, exc))
                continue
            if isinstance(prepared, Inbound):
                items[job] = prepared
            else:
                outcomes.append((job, prepared, None))
        try:
            if items:
                receive_many(list(items.values()))
        except Exception as exc:
            # The database failed (storing or committing): no ACK is true, so none is sent; the
            # connections close and the senders resend.
            # An item whose ACK is set was committed (or is a resend answered from its row): that
            # answer is true and is sent.
            log.exception("hl7: a batch of %d message(s) failed", len(items))
            outcomes += [(job, item.ack, None if item.ack is not None else exc) for job, item in items.items()]
        else:
            outcomes += [(job, item.ack, None) for job, item in items.items()]
        _resolve(outcomes)


def _resolve(outcomes: list[tuple[_Job, str | None, BaseException | None]]) -> None:
    """Hand a batch's answers to the connections: one callback per event loop for the whole batch
    (one wake-up of the loop, not one per message, while this thread still holds the GIL)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, str | None, BaseException | None]]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)

    def settle(batch: list[tuple[_Job, str | None, BaseException | None]]) -> None:
        for job, answer, exc in batch:
            if job.future.done():
                continue  # the connection went away meanwhile
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(answer)

    for loop, batch in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed (shutdown)
            loop.call_soon_threadsafe(settle, batch)


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, inbound: Writer) -> None:
    peer = writer.get_extra_info("peername")
    decoder = MllpDecoder(max_size=MAX_MESSAGE_BYTES)
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_SECONDS)
            if not chunk:
                break
            for block in decoder.feed(chunk):
                ack = await inbound.submit(block, id(writer))
                if ack is not None:
                    writer.write(mllp_frame(ack))
                    await writer.drain()
    except (TimeoutError, ValueError, ConnectionError) as exc:
        log.info("hl7: closing connection from %s: %s", peer, exc)
    except Exception:
        # A failure outside processing (the database is down while storing): no ACK was sent,
        # so the sender will resend; close rather than answer something untrue.
        log.exception("hl7: connection from %s failed", peer)
    finally:
        inbound.forget(id(writer))
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str, port: int, routes: Routes, *, writers: int | None = None) -> asyncio.Server:
    """Start listening (port 0 picks a free one: `server.sockets[0].getsockname()[1]`). The
    writer threads (default: the `hl7_writers` setting) stop when the server is closed."""
    if writers is None:
        from praxis.platform.settings import get_settings

        writers = get_settings().hl7_writers
    inbound = Writer(routes, writers)
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, inbound), host, port)
    original_close = server.close

    def close() -> None:
        original_close()
        threading.Thread(target=inbound.close, daemon=True).start()  # never block the loop

    server.close = close  # type: ignore[method-assign]
    return server


async def serve_forever(host: str, port: int, routes: Routes) -> None:
    server = await start_server(host, port, routes)
    log.info("hl7: listening on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
    async with server:
        await server.serve_forever()
