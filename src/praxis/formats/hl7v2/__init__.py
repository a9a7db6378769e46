"""HL7 v2: a parser (separators from MSH, lazy components), a writer, ACKs, MLLP framing.

Public API (import from here):

- `parse_message(data) -> Message`; `Message.get("PID-5.1")`, `Message.segment("PID").value(5, 2)`;
  anything that is not a message raises `HL7ParseError` and nothing else.
- `split_batch(data) -> list[str]`: the messages of a FHS/BHS batch file.
- `build_message`, `write_segment`, `Repeat`: write segments from plain values (escaped).
- `build_ack(original, "AA" | "AE" | "AR", ..., errors=[AckError(...)])`: MSA and ERR.
- `mllp_frame`, `MllpDecoder`: the MLLP block framing used on the wire.
"""

from praxis.formats.hl7v2.message import (
    DEFAULT_SEPARATORS,
    HL7ParseError,
    Message,
    Segment,
    Separators,
    escape,
    parse_message,
    split_batch,
    unescape,
)
from praxis.formats.hl7v2.write import (
    AckError,
    MllpDecoder,
    Repeat,
    build_ack,
    build_message,
    hl7_timestamp,
    mllp_frame,
    write_segment,
)

__all__ = [
    "DEFAULT_SEPARATORS",
    "AckError",
    "HL7ParseError",
    "Message",
    "MllpDecoder",
    "Repeat",
    "Segment",
    "Separators",
    "build_ack",
    "build_message",
    "escape",
    "hl7_timestamp",
    "mllp_frame",
    "parse_message",
    "split_batch",
    "unescape",
    "write_segment",
]
