"""HL7 v2 messages: parse (separators from MSH), read fields by position, escape and unescape.

A message is split into segments and fields eagerly (two `str.split` calls per segment, which is
what makes it fast); components, repetitions and subcomponents are split only when asked for.
Positions are HL7's own, 1-based: `PID-5.1` is PID field 5, component 1. For MSH the field
separator itself is MSH-1 and the encoding characters are MSH-2, as the standard counts them.

Anything that is not a message raises `HL7ParseError` (a `ValueError`), never another exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "HL7ParseError",
    "Message",
    "Segment",
    "Separators",
    "escape",
    "parse_message",
    "split_batch",
    "unescape",
]


class HL7ParseError(ValueError):
    """Not an HL7 v2 message; `segment` and `field` say where, when known."""

    def __init__(self, reason: str, *, segment: str | None = None, field: int | None = None) -> None:
        where = f"{segment}-{field}" if segment and field is not None else (segment or "")
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.segment = segment
        self.field = field


@dataclass(frozen=True, slots=True)
class Separators:
    """The delimiters of one message (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7+ may add '#' as a fifth encoding character

    @property
    def encoding_characters(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent + self.truncation


DEFAULT_SEPARATORS = Separators()

_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_LINE_BREAKS = re.compile(r"\r\n|\n|\r")


def unescape(text: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Replace HL7 escape sequences (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\) by what they stand for.

    Formatting escapes (\\H\\, \\N\\) are dropped; an unknown or unterminated sequence is kept
    as written, because a real feed's stray backslash must not lose the text around it.
    """
    esc = seps.escape
    if not esc or esc not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != esc:
            out.append(ch)
            i += 1
            continue
        end = text.find(esc, i + 1)
        if end < 0:
            out.append(text[i:])
            break
        code = text[i + 1 : end]
        replacement = _escape_codes(seps).get(code)
        if replacement is not None:
            out.append(replacement)
        elif code in ("H", "N"):
            pass
        elif code == ".br":
            out.append("\n")
        elif code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1 and _is_hex(code[1:]):
            out.append(bytes.fromhex(code[1:]).decode("latin-1"))
        else:
            out.append(text[i : end + 1])
        i = end + 1
    return "".join(out)


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in s)


def _escape_codes(seps: Separators) -> dict[str, str]:
    return {"F": seps.field, "S": seps.component, "T": seps.subcomponent, "R": seps.repetition, "E": seps.escape}


def escape(text: str, seps: Separators = DEFAULT_SEPARATORS) -> str:
    """Escape the delimiters in a value so it survives as data (the inverse of `unescape`)."""
    e = seps.escape
    out = text.replace(e, f"{e}E{e}")
    for ch, code in (
        (seps.field, "F"),
        (seps.component, "S"),
        (seps.subcomponent, "T"),
        (seps.repetition, "R"),
    ):
        out = out.replace(ch, f"{e}{code}{e}")
    if seps.truncation:
        out = out.replace(seps.truncation, f"{e}X{ord(seps.truncation):02X}{e}")
    # Segment terminators inside data would end the segment: HL7 writes them as \X0D\ / \.br\.
    # A CR LF pair becomes \X0D\\.br\ (not one \.br\), so the value comes back exactly.
    return out.replace("\r", f"{e}X0D{e}").replace("\n", f"{e}.br{e}")


class Segment:
    """One segment: `name` and its raw (still escaped) fields, numbered as HL7 numbers them."""

    __slots__ = ("_fields", "name", "seps")

    def __init__(self, name: str, fields: list[str], seps: Separators) -> None:
        self.name = name
        # _fields[0] is the name; for MSH, _fields[1] is MSH-1 (the field separator).
        self._fields = fields
        self.seps = seps

    def __repr__(self) -> str:
        return f"Segment({self.name!r}, {len(self._fields) - 1} fields)"

    def __len__(self) -> int:
        """The number of fields present (the highest position)."""
        return len(self._fields) - 1

    def raw(self, field: int) -> str:
        """Field `field` exactly as written (escaped, all repetitions); '' when absent."""
        if field < 1:
            raise IndexError("HL7 fields are numbered from 1")
        return self._fields[field] if field < len(self._fields) else ""

    def repetitions(self, field: int) -> list[str]:
        """The raw repetitions of a field (MSH-1 and MSH-2 never repeat)."""
        value = self.raw(field)
        if self.name == "MSH" and field <= 2:
            return [value]
        return value.split(self.seps.repetition) if value else []

    def components(self, field: int, repetition: int = 0) -> list[str]:
        """The raw components of one repetition of a field."""
        reps = self.repetitions(field)
        if repetition >= len(reps):
            return []
        if self.name == "MSH" and field <= 2:
            return [reps[repetition]]
        return reps[repetition].split(self.seps.component)

    def value(self, field: int, component: int = 1, subcomponent: int = 1, repetition: int = 0) -> str:
        """One unescaped value; '' when absent. `value(5)` is the first component of field 5."""
        comps = self.components(field, repetition)
        if component > len(comps) or component < 1:
            return ""
        comp = comps[component - 1]
        if self.name == "MSH" and field <= 2:
            return comp
        subs = comp.split(self.seps.subcomponent)
        if subcomponent > len(subs) or subcomponent < 1:
            return ""
        return unescape(subs[subcomponent - 1], self.seps)

    def text(self, field: int, repetition: int = 0) -> str:
        """A whole repetition of a field unescaped, components kept joined (for display/errors)."""
        reps = self.repetitions(field)
        return unescape(reps[repetition], self.seps) if repetition < len(reps) else ""

    def encode(self) -> str:
        """The segment as written (without the terminator)."""
        if self.name == "MSH":
            return "MSH" + self.seps.field + self.seps.field.join(self._fields[2:])
        return self.seps.field.join(self._fields)


class Message:
    """A parsed message: its separators and segments, with lookups by HL7 position."""

    __slots__ = ("_head", "segments", "seps")

    def __init__(self, segments: list[Segment], seps: Separators) -> None:
        self.segments = segments
        self.seps = seps
        self._head: tuple[Segment, dict[tuple[int, int], str]] | None = None

    def _msh_value(self, field: int, component: int = 1) -> str:
        # The header values are read many times per message on the receiving path (routing,
        # batching, dispatch, the ACK): kept once read, for as long as the MSH is the same segment
        # (a Segment never changes; `segments` is a plain list someone could replace an item of).
        msh = self.segments[0]
        head = self._head
        if head is None or head[0] is not msh:
            head = self._head = (msh, {})
        key = (field, component)
        found = head[1].get(key)
        if found is None:
            found = head[1][key] = msh.value(field, component)
        return found

    def __repr__(self) -> str:
        return f"Message({self.message_type}^{self.trigger_event}, {len(self.segments)} segments)"

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def segment(self, name: str, occurrence: int = 0) -> Segment | None:
        """The `occurrence`-th (0-based) segment called `name`, or None."""
        seen = 0
        for seg in self.segments:
            if seg.name == name:
                if seen == occurrence:
                    return seg
                seen += 1
        return None

    def all(self, name: str) -> list[Segment]:
        return [seg for seg in self.segments if seg.name == name]

    def get(self, path: str) -> str:
        """A value by path: 'PID-5.1', 'PID-3(2).1', 'MSH-9.2', 'PID-5.1.2' (0-based repetition in ())."""
        m = _PATH.match(path)
        if m is None:
            raise ValueError(f"not an HL7 path: {path!r}")
        seg = self.segment(m["seg"])
        if seg is None:
            return ""
        return seg.value(
            int(m["field"]),
            int(m["comp"] or 1),
            int(m["sub"] or 1),
            int(m["rep"] or 0),
        )

    # The header values every receiver needs, named.
    @property
    def message_type(self) -> str:
        return self._msh_value(9, 1)

    @property
    def trigger_event(self) -> str:
        return self._msh_value(9, 2)

    @property
    def structure(self) -> str:
        return self._msh_value(9, 3)

    @property
    def control_id(self) -> str:
        return self._msh_value(10)

    @property
    def version(self) -> str:
        return self._msh_value(12)

    @property
    def sending_application(self) -> str:
        return self._msh_value(3)

    @property
    def sending_facility(self) -> str:
        return self._msh_value(4)

    def encode(self) -> str:
        """The message as written, segments ended by carriage returns."""
        return "".join(seg.encode() + "\r" for seg in self.segments)


_PATH = re.compile(
    r"(?P<seg>[A-Z][A-Z0-9]{2})-(?P<field>\d+)(?:\((?P<rep>\d+)\))?(?:\.(?P<comp>\d+))?(?:\.(?P<sub>\d+))?\Z"
)


def _decode(data: bytes) -> str:
    # MSH-18 would name the charset, but it sits inside the bytes we are decoding: UTF-8 is
    # what modern senders use and ASCII's superset; Latin-1 never fails and keeps legacy feeds.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_message(data: str | bytes) -> Message:
    """Parse one message. Separators come from MSH-1/MSH-2; segments end with CR (LF and CRLF
    are accepted because files get rewritten by editors). Raises `HL7ParseError` otherwise."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        text = _decode(bytes(data))
    elif isinstance(data, str):
        text = data
    else:
        raise HL7ParseError("expected text or bytes")
    text = text.lstrip("\ufeff \t\r\n\x0b").rstrip("\x1c\r\n \t")
    if not text.startswith("MSH"):
        raise HL7ParseError("a message starts with an MSH segment", segment="MSH")
    if len(text) < 8:
        raise HL7ParseError("MSH is too short to hold its separators", segment="MSH", field=2)
    fs = text[3]
    if fs.isalnum() or fs in "\r\n ":
        raise HL7ParseError("MSH-1 (field separator) is missing or invalid", segment="MSH", field=1)
    end = text.find(fs, 4)
    enc = text[4:end] if end >= 0 else text[4:]
    enc = _LINE_BREAKS.split(enc, maxsplit=1)[0]
    if not 4 <= len(enc) <= 5 or len(set(enc + fs)) != len(enc) + 1 or any(c.isalnum() or c.isspace() for c in enc):
        raise HL7ParseError("MSH-2 must hold 4 (or 5) distinct encoding characters", segment="MSH", field=2)
    seps = Separators(fs, enc[0], enc[1], enc[2], enc[3], enc[4] if len(enc) == 5 else "")
    segments: list[Segment] = []
    for line in _LINE_BREAKS.split(text):
        if not line.strip():
            continue
        parts = line.split(fs)
        name = parts[0]
        if not _SEGMENT_NAME.match(name):
            raise HL7ParseError(f"segment {len(segments) + 1} has no valid name ({name[:10]!r})")
        if name == "MSH":
            if segments:
                raise HL7ParseError("a second MSH: split batches with split_batch()", segment="MSH")
            # MSH-1 is the separator itself: shift so that _fields[1] is MSH-1, _fields[2] MSH-2.
            parts = ["MSH", fs, *parts[1:]]
        segments.append(Segment(name, parts, seps))
    msh = segments[0]
    if not msh.value(9, 1):
        raise HL7ParseError("MSH-9 (message type) is required", segment="MSH", field=9)
    return Message(segments, seps)


def split_batch(data: str | bytes) -> list[str]:
    """The messages of a batch file (FHS/BHS ... BTS/FTS envelopes, or bare MSH after MSH).

    Works on text: every segment that starts with MSH opens a new message; the envelope
    segments (FHS, BHS, BTS, FTS) belong to no message and are dropped.
    """
    text = _decode(bytes(data)) if isinstance(data, (bytes, bytearray)) else data
    if not isinstance(text, str):
        raise HL7ParseError("expected text or bytes")
    text = text.lstrip("\ufeff\x0b")
    messages: list[list[str]] = []
    for line in _LINE_BREAKS.split(text):
        if not line.strip() or line[:3] in ("FHS", "BHS", "BTS", "FTS"):
            continue
        if line.startswith("MSH"):
            messages.append([line])
        elif messages:
            messages[-1].append(line)
        else:
            raise HL7ParseError("segment before the first MSH", segment=line[:3])
    return ["\r".join(lines) + "\r" for lines in messages]
