"""The MLLP listener: asyncio TCP, one ACK per message, in order per connection.

Each connection's messages are handled one after another (HL7's original-mode ordering: the
sender waits for the ACK before sending the next), each in a worker thread because the
service layer is synchronous (decision 1). Connections run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from praxis.formats.hl7v2 import MllpDecoder, mllp_frame
from praxis.interop.hl7.inbound import Routes, receive

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 300.0


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: Routes) -> None:
    peer = writer.get_extra_info("peername")
    decoder = MllpDecoder(max_size=MAX_MESSAGE_BYTES)
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT_SECONDS)
            if not chunk:
                break
            for block in decoder.feed(chunk):
                ack = await asyncio.to_thread(receive, block, routes)
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
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_server(host: str, port: int, routes: Routes) -> asyncio.Server:
    """Start listening (port 0 picks a free one: `server.sockets[0].getsockname()[1]`)."""
    return await asyncio.start_server(lambda r, w: _serve_connection(r, w, routes), host, port)


async def serve_forever(host: str, port: int, routes: Routes) -> None:
    server = await start_server(host, port, routes)
    log.info("hl7: listening on %s", ", ".join(str(s.getsockname()) for s in server.sockets))
    async with server:
        await server.serve_forever()
