"""Write HL7 v2: segments from plain values, escaped; ACKs (AA/AE/AR with MSA and ERR); MLLP frames.

A field value is `None` or `""` (empty), a `str` (escaped on the way out), a `list` of
components (each `None`, a `str`, or a `list` of subcomponents), or a `Repeat` of such fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from praxis.formats.hl7v2.message import DEFAULT_SEPARATORS, Message, Separators, escape

__all__ = [
    "AckError",
    "MllpDecoder",
    "Repeat",
    "build_ack",
    "build_message",
    "mllp_frame",
    "write_segment",
]

Component = str | None | Sequence[str | None]
FieldValue = str | None | Sequence[Component]


@dataclass(frozen=True, slots=True)
class Repeat:
    """A repeating field: each item is written as one repetition."""

    items: tuple[FieldValue, ...]


def _component(value: Component, seps: Separators) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value, seps)
    return seps.subcomponent.join("" if s is None else escape(s, seps) for s in value).rstrip(seps.subcomponent)


def _field(value: FieldValue | Repeat, seps: Separators) -> str:
    if isinstance(value, Repeat):
        return seps.repetition.join(_field(item, seps) for item in value.items)
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value, seps)
    return seps.component.join(_component(c, seps) for c in value).rstrip(seps.component)


def write_segment(name: str, fields: Sequence[FieldValue | Repeat], seps: Separators = DEFAULT_SEPARATORS) -> str:
    """One segment (no terminator). For MSH, `fields` starts at MSH-3: MSH-1/2 come from `seps`."""
    if len(name) != 3 or not name.isalnum() or not name.isupper():
        raise ValueError(f"not a segment name: {name!r}")
    body = seps.field.join(_field(f, seps) for f in fields).rstrip(seps.field)
    if name == "MSH":
        return f"MSH{seps.field}{seps.encoding_characters}{seps.field}{body}".rstrip(seps.field)
    return f"{name}{seps.field}{body}" if body else name


def build_message(
    segments: Sequence[tuple[str, Sequence[FieldValue | Repeat]]], seps: Separators = DEFAULT_SEPARATORS
) -> str:
    """A whole message, segments ended by CR; the first must be MSH."""
    if not segments or segments[0][0] != "MSH":
        raise ValueError("a message starts with MSH")
    return "".join(write_segment(name, fields, seps) + "\r" for name, fields in segments)


def hl7_timestamp(moment: datetime) -> str:
    """DTM with seconds and the UTC offset (timezone-aware datetimes only)."""
    if moment.tzinfo is None:
        raise ValueError("HL7 timestamps are written with their offset: pass an aware datetime")
    return moment.strftime("%Y%m%d%H%M%S%z")


@dataclass(frozen=True, slots=True)
class AckError:
    """One ERR segment: where (segment, its 1-based occurrence, field, component) and why.

    `code` is from HL7 table 0357 (100 segment sequence error, 101 required field missing,
    102 data type error, 103 table value not found, 200 unsupported message type,
    201 unsupported event code, 204 unknown key identifier, 205 duplicate key identifier,
    206 application record locked, 207 application internal error).
    """

    code: str
    text: str
    segment: str = ""
    sequence: int = 1
    field: int | None = None
    component: int | None = None
    severity: str = "E"


_CODE_NAMES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}


def _v(version: str) -> tuple[int, ...]:
    """'2.5.1' -> (2, 5, 1); unreadable parts count as 0 so a bad MSH-12 still gets an ACK."""
    return tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:3])


def _err_segment(err: AckError, version: str) -> tuple[str, list[FieldValue | Repeat]]:
    where_field = "" if err.field is None else str(err.field)
    where_comp = "" if err.component is None else str(err.component)
    code = [err.code, _CODE_NAMES.get(err.code, ""), "HL70357"]
    if _v(version) < (2, 5):
        # ERR-1 (ELD) before v2.5: segment^sequence^field^code.
        # ELD.4 is a CE inside a component, so its parts are subcomponents.
        return "ERR", [[err.segment, str(err.sequence), where_field, code]]
    location = [err.segment, str(err.sequence), where_field, "1" if where_field else "", where_comp]
    return "ERR", ["", location if err.segment else "", code, err.severity, "", "", "", err.text]


def build_ack(
    original: Message,
    code: str,
    *,
    control_id: str,
    at: datetime,
    text: str = "",
    errors: Sequence[AckError] = (),
    application: str | None = None,
    facility: str | None = None,
) -> str:
    """The ACK for `original`: MSH with sender and receiver swapped, MSA, one ERR per error.

    `code` is AA (accepted), AE (error: the content was wrong) or AR (rejected: we do not
    take this message at all). The ACK uses the original's separators and version.
    """
    if code not in ("AA", "AE", "AR"):
        raise ValueError(f"acknowledgement code must be AA, AE or AR, not {code!r}")
    seps = original.seps
    msh = original.msh
    version = original.version or "2.5"
    # Swapping keeps the sender's own coded values (namespace^OID^ISO) intact: copy raw.
    receiving_app = msh.raw(3)
    receiving_fac = msh.raw(4)
    header = seps.field.join(
        [
            "MSH",
            seps.encoding_characters,
            escape(application, seps) if application is not None else msh.raw(5),
            escape(facility, seps) if facility is not None else msh.raw(6),
            receiving_app,
            receiving_fac,
            hl7_timestamp(at),
            "",
            # MSH-9.3 (message structure) exists from v2.3.1 on.
            seps.component.join(
                ["ACK", escape(original.trigger_event, seps)] + (["ACK"] if _v(version) >= (2, 3, 1) else [])
            ),
            escape(control_id, seps),
            msh.raw(11) or "P",
            escape(version, seps),
        ]
    )
    lines = [header, write_segment("MSA", [code, original.control_id, text[:80] if _v(version) < (2, 7) else ""], seps)]
    lines += [write_segment(*_err_segment(err, version), seps=seps) for err in errors]
    return "".join(line + "\r" for line in lines)


# MLLP (minimal lower layer protocol): <VT> message <FS><CR>.
START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"


def mllp_frame(message: str | bytes) -> bytes:
    """Wrap a message in an MLLP block (UTF-8)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START_BLOCK + data + END_BLOCK


class MllpDecoder:
    """Incremental MLLP deframer: feed bytes as they arrive, get whole messages back.

    Bytes outside a block (noise before <VT>) are dropped; a block larger than `max_size`
    raises `ValueError` so one bad peer cannot exhaust memory.
    """

    def __init__(self, max_size: int = 8 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._max = max_size

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while True:
            start = self._buffer.find(START_BLOCK)
            if start < 0:
                self._buffer.clear()
                break
            if start:
                del self._buffer[:start]
            end = self._buffer.find(b"\x1c", 1)
            if end < 0:
                if len(self._buffer) > self._max:
                    self._buffer.clear()
                    raise ValueError("MLLP block exceeds the maximum size")
                break
            out.append(bytes(self._buffer[1:end]))
            # The trailing CR is optional in practice; skip it when present.
            cut = end + 2 if self._buffer[end + 1 : end + 2] == b"\r" else end + 1
            del self._buffer[:cut]
        return out
